import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { TEST_IMAGE } from '../support/docker.js';
import { eventually, projectManifest, runCli } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Issue 23, progressive rollout on the real engine, for what works without the traffic
// split: a change with spec.rollout starts a rollout at step 1 once revision 2 is ready;
// `luma rollout pause|resume` hold and carry it on; a `luma up` SIGKILLed mid-rollout
// finds it in status.rollout after restart, at the same step with the same clock.
// (The automatic rollback on 5xx: rollout-rollback.test.ts.)

const HOST = 'roll.localhost';
/** Long steps: the test moves nothing on by time. */
const ROLLOUT = [
  '  rollout:',
  '    steps:',
  '      - { percent: 10, durationSeconds: 600 }',
  '      - { percent: 50, durationSeconds: 600 }',
];

const fixture = lumaUpFor('rollout', {});

async function apply(who: string): Promise<void> {
  const base = projectManifest('roll', { image: TEST_IMAGE, hostnames: [HOST], minInstances: 1, env: { WHO: who } });
  const file = path.join(fixture.dir, 'roll.yaml');
  await writeFile(file, `${base.trimEnd()}\n${ROLLOUT.join('\n')}\n`);
  const result = await runCli(['apply', '-f', file], { api: fixture.luma.api });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
}

async function project(): Promise<ProjectObject> {
  const result = await runCli(['get', 'project/roll', '-o', 'json'], { api: fixture.luma.api });
  return JSON.parse(result.stdout) as ProjectObject;
}

async function rolloutStatus(): Promise<string> {
  return (await runCli(['rollout', 'status', 'project/roll', '--no-watch'], { api: fixture.luma.api })).stdout.trim();
}

describe('luma rollout on the real engine', () => {
  it('starts at step 1 once revision 2 is ready, pauses and resumes, and survives a SIGKILL', async () => {
    await apply('one');
    await eventually(async () => expect((await project()).status?.revisions?.latestReady).toBe('roll-1'), 30_000);
    await apply('two');
    await eventually(async () => expect((await project()).status?.rollout?.stepStartedAt).toBeDefined(), 30_000);
    const started = (await project()).status?.rollout;
    expect(started).toMatchObject({ phase: 'Progressing', stable: 'roll-1', candidate: 'roll-2', step: 0 });
    expect((await project()).status?.traffic).toEqual([
      { revisionName: 'roll-1', percent: 90 },
      { revisionName: 'roll-2', percent: 10 },
    ]);
    expect(await rolloutStatus()).toBe('project/roll: step 1 of 2, roll-2 gets 10 % (roll-1 the rest)');

    expect((await runCli(['rollout', 'pause', 'project/roll'], { api: fixture.luma.api })).stdout).toBe(
      'project/roll paused\n',
    );
    await eventually(async () => expect((await project()).status?.rollout?.phase).toBe('Paused'), 10_000);
    const again = await runCli(['rollout', 'pause', 'project/roll'], { api: fixture.luma.api });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already paused');
    expect(await rolloutStatus()).toContain('paused at step 1 of 2');
    expect((await runCli(['rollout', 'resume', 'project/roll'], { api: fixture.luma.api })).code).toBe(0);
    await eventually(async () => expect((await project()).status?.rollout?.phase).toBe('Progressing'), 10_000);
    const resumed = (await project()).status?.rollout;

    await fixture.luma.kill();
    await fixture.start('state');
    await eventually(async () => expect((await project()).status?.observedGeneration).toBeGreaterThan(0), 30_000);
    const after = (await project()).status?.rollout;
    expect(after).toMatchObject({
      phase: 'Progressing',
      candidate: 'roll-2',
      step: 0,
      stepStartedAt: resumed?.stepStartedAt,
    });
  }, 120_000);
});
