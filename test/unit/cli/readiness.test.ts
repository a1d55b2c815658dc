import { describe, expect, it } from 'vitest';
import { judge, parseWaitFor, WaitForError } from '../../../src/cli/readiness.js';
import { setReadiness, type Readiness } from '../../../src/controller/conditions.js';
import { API_VERSION, type ProjectObject } from '../../../src/model/types.js';

const T = new Date('2025-01-01T00:00:00.000Z');

function project(readiness: Readiness | undefined, generation = 1, observedGeneration = 1): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'x', generation },
    spec: { image: 'i', hostnames: ['x.localhost'] },
    status: {
      observedGeneration,
      phase: 'Starting',
      ...(readiness ? { conditions: setReadiness(undefined, readiness, T) } : {}),
    },
  };
}

const READY = parseWaitFor('condition=Ready');

describe('parseWaitFor', () => {
  it.each([
    ['condition=Ready', { type: 'condition', condition: 'Ready', status: 'True' }],
    ['condition=Stalled=False', { type: 'condition', condition: 'Stalled', status: 'False' }],
    ['condition=Ready=true', { type: 'condition', condition: 'Ready', status: 'True' }],
    ['delete', { type: 'delete' }],
  ])('%s', (input, expected) => expect(parseWaitFor(input)).toEqual(expected));

  it.each(['Ready', 'condition=', 'condition=Ready=maybe', 'deleted', ''])(
    'refuses %j, saying what it takes',
    (input) => {
      expect(() => parseWaitFor(input)).toThrow(WaitForError);
      expect(() => parseWaitFor(input)).toThrow(/--for=condition=Ready/);
    },
  );
});

describe('judge', () => {
  it('is done when Ready is True for the current generation', () => {
    expect(judge(project({ state: 'ready', reason: 'Running', message: '' }), READY, 'project/x')).toEqual({
      outcome: 'done',
      message: 'project/x condition met',
    });
  });

  it('keeps waiting while the controller has not seen the current spec, even if Ready is True', () => {
    expect(judge(project({ state: 'ready', reason: 'Running', message: '' }, 2, 1), READY, 'project/x').outcome).toBe(
      'waiting',
    );
  });

  it('keeps waiting, saying where it stands, while reconciling or not reconciled yet', () => {
    expect(
      judge(
        project({ state: 'reconciling', reason: 'Starting', message: 'an instance is starting' }),
        READY,
        'project/x',
      ),
    ).toEqual({
      outcome: 'waiting',
      progress: 'Starting, Ready=False (Starting: an instance is starting)',
    });
    expect(judge(project(undefined), READY, 'project/x')).toEqual({
      outcome: 'waiting',
      progress: 'Starting: not reconciled yet',
    });
  });

  it('gives up at once when stalled or ended, with the reason', () => {
    expect(
      judge(project({ state: 'stalled', reason: 'ImageNotFound', message: 'no such image' }), READY, 'project/x'),
    ).toEqual({
      outcome: 'failed',
      message: 'project/x is stalled and will not become Ready without a change: ImageNotFound: no such image',
    });
    expect(judge(project({ state: 'ended', reason: 'Expired', message: 'over' }), READY, 'project/x')).toMatchObject({
      outcome: 'failed',
      message: expect.stringContaining('Expired'),
    });
  });

  it('fails when the object is gone while waiting for a condition', () => {
    expect(judge(undefined, READY, 'project/x')).toMatchObject({
      outcome: 'failed',
      message: expect.stringContaining('project/x not found'),
    });
  });

  it('waits for a deletion until the object is gone', () => {
    expect(judge(project(undefined), { type: 'delete' }, 'project/x').outcome).toBe('waiting');
    expect(judge(undefined, { type: 'delete' }, 'project/x')).toEqual({
      outcome: 'done',
      message: 'project/x deleted',
    });
  });

  it('waits for other conditions and statuses as asked', () => {
    const stalled = project({ state: 'stalled', reason: 'BuildFailed', message: '' });
    expect(judge(stalled, parseWaitFor('condition=Stalled'), 'project/x').outcome).toBe('done');
    expect(judge(stalled, parseWaitFor('condition=Ready=False'), 'project/x').outcome).toBe('done');
  });
});
