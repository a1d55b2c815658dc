import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { containersOf, TEST_IMAGE } from '../support/docker.js';
import { CRASHING_COMMAND, eventually, projectManifest, request, runCli } from '../support/luma.js';
import { readyCondition } from '../support/images.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// An app that exits at once: Luma restarts it with a growing backoff, says
// CrashLoopBackOff with the exit code and its last lines, and answers requests with 503 at
// once instead of holding them until startupTimeout.

describe('crash loops', () => {
  const up = lumaUpFor('crash', { resyncInterval: '1s', stopTimeout: '1s' });
  const instance = up.instance;

  async function project(name: string): Promise<ProjectObject> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: up.luma.api });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as ProjectObject;
  }

  async function apply(name: string, minInstances: number): Promise<void> {
    const file = path.join(up.dir, `${name}.yaml`);
    // A startup timeout far beyond the request timeouts below: an answer proves it failed fast.
    await writeFile(
      file,
      projectManifest(name, {
        image: TEST_IMAGE,
        hostnames: [`${name}.localhost`],
        minInstances,
        command: CRASHING_COMMAND,
        startupTimeout: '120s',
      }),
    );
    const result = await runCli(['apply', '-f', file], { api: up.luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  it('answers the first request to an app that exits at once with 503 and the reason, not after startupTimeout', async () => {
    await apply('exits', 0);
    const first = await request(up.luma.proxyPort, 'exits.localhost', '/', 20_000);
    expect(first.status).toBe(503);
    expect(first.body).toMatch(
      /CrashLoopBackOff: the app keeps exiting \(it exited with code 3\); Luma starts it again in \ds/,
    );
    // What the app wrote stays in status, not in answers to strangers.
    expect(first.body).not.toContain('DATABASE_URL');

    // During the backoff a request is not even held: 503 at once, with the same reason.
    const again = await request(up.luma.proxyPort, 'exits.localhost', '/', 5_000);
    expect(again.status).toBe(503);
    expect(again.body).toContain('CrashLoopBackOff');

    // Restarts go on while requests are recent; whatever the moment, Ready says why.
    const ready = readyCondition(await project('exits'));
    expect(ready).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(ready?.message).toMatch(
      /^the app exited with code 3 \(\d+ crash(es)? in a row\); (next start in \ds|starting it again|the next request starts it again); last log lines:\n/,
    );
    // Both lines, whichever stream Docker hands over first (stdout and stderr are stamped apart).
    expect(ready?.message).toContain('starting up');
    expect(ready?.message).toContain('fatal: DATABASE_URL is not set');
  });

  it('restarts a warm app that keeps exiting with a growing backoff, reusing its container', async () => {
    await apply('loops', 1);
    // 1 s, then 2 s: the third crash comes some 3 s after the first.
    const third = await eventually(
      async () => {
        const status = await project('loops');
        const message = readyCondition(status)?.message ?? '';
        return /\((\d+) crashes in a row\)/.exec(message)?.[1] === '3' ? status : undefined;
      },
      30_000,
      'the third crash in a row',
    );
    // Failed while it backs off, Starting while a restart runs: Ready says CrashLoopBackOff throughout.
    expect(['Failed', 'Starting']).toContain(third.status?.phase);
    expect(readyCondition(third)).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(readyCondition(third)?.message).toMatch(/(next start in [1-4]s|starting it again)/);
    // Restarted, not recreated: one container for the whole loop.
    expect(await containersOf(instance, 'loops')).toHaveLength(1);
    const answer = await request(up.luma.proxyPort, 'loops.localhost', '/', 5_000);
    expect(answer.status).toBe(503);
  });
});
