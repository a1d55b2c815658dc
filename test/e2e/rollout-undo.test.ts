import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { TEST_IMAGE } from '../support/docker.js';
import { eventually, projectManifest, request, runCli } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Issue 23 on the real engine: while a rollout holds the split, the project's declared tag
// hostname still reaches its revision (not 404); `luma rollout undo` mid-rollout goes
// back to the rollout's stable revision and ends the rollout (status Undone, an event,
// every request to revision 1).

const HOST = 'undo.localhost';
const LINES = [
  '  traffic:',
  '    - { revisionName: undo-1, percent: 100, tag: one }',
  '  rollout:',
  '    steps:',
  '      - { percent: 50, durationSeconds: 600 }',
  '      - { percent: 90, durationSeconds: 600 }',
];

const fixture = lumaUpFor('rollout-undo', {});

async function apply(who: string): Promise<void> {
  const base = projectManifest('undo', { image: TEST_IMAGE, hostnames: [HOST], minInstances: 1, env: { WHO: who } });
  const file = path.join(fixture.dir, 'undo.yaml');
  await writeFile(file, `${base.trimEnd()}\n${LINES.join('\n')}\n`);
  const result = await runCli(['apply', '-f', file], { api: fixture.luma.api });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
}

async function project(): Promise<ProjectObject> {
  const result = await runCli(['get', 'project/undo', '-o', 'json'], { api: fixture.luma.api });
  return JSON.parse(result.stdout) as ProjectObject;
}

async function who(host: string): Promise<string> {
  const answer = await request(fixture.luma.proxyPort, host, '/cgi-bin/env', 15_000);
  return answer.status === 200 ? (/^WHO=(.*)$/m.exec(answer.body)?.[1] ?? 'no WHO') : `status ${answer.status}`;
}

describe('a rollout with a tag, undone', () => {
  it('keeps the tag hostname reachable during the rollout, and undo ends it on revision 1', async () => {
    await apply('one');
    await eventually(async () => expect((await project()).status?.revisions?.latestReady).toBe('undo-1'), 30_000);
    await apply('two');
    await eventually(async () => expect((await project()).status?.rollout?.stepStartedAt).toBeDefined(), 30_000);
    const during = await project();
    expect(during.status?.traffic).toContainEqual(expect.objectContaining({ revisionName: 'undo-1', tag: 'one' }));
    const viaTag = await Promise.all(Array.from({ length: 10 }, () => who('one---undo.localhost')));
    expect(new Set(viaTag)).toEqual(new Set(['one']));

    const undone = await runCli(['rollout', 'undo', 'project/undo'], { api: fixture.luma.api });
    expect(undone.stderr).toBe('');
    expect(undone.stdout).toBe(
      'project/undo rolled back: all traffic to revision undo-1 (rollout of undo-2 stopped)\n',
    );
    await eventually(async () => expect((await project()).status?.rollout?.phase).toBe('Undone'), 10_000);
    await eventually(
      async () =>
        expect((await project()).status?.traffic?.filter((target) => target.percent > 0)).toEqual([
          expect.objectContaining({ revisionName: 'undo-1', percent: 100 }),
        ]),
      10_000,
    );
    const after = await Promise.all(Array.from({ length: 20 }, () => who(HOST)));
    expect(new Set(after)).toEqual(new Set(['one']));
    const events = await runCli(['events', '--for', 'project/undo'], { api: fixture.luma.api });
    expect(events.stdout).toContain('RolloutUndone');
    const status = await runCli(['rollout', 'status', 'project/undo', '--no-watch'], { api: fixture.luma.api });
    expect(status.stdout).toContain('rollout of undo-2 undone at step 1; all traffic to undo-1');
  }, 120_000);
});
