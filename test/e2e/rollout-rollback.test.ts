import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { TEST_IMAGE } from '../support/docker.js';
import { eventually, projectManifest, request, runCli } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Issue 23 acceptance: a revision whose app answers 500 is rolled back by the rollout on
// its own, with a condition and an event naming the limit, and traffic returns to
// revision 1.

const HOST = 'rollback.localhost';
/** Revision 2 answers every /cgi-bin/fail with a 500 (busybox httpd passes a CGI's raw status line). */
const FAILING = [
  '/bin/busybox',
  'sh',
  '-c',
  'mkdir -p /tmp/www/cgi-bin && printf \'#!/bin/busybox sh\\nprintf "HTTP/1.0 500 Internal Server Error\\\\r\\\\n\\\\r\\\\nbad"\\n\' > /tmp/www/cgi-bin/fail && chmod +x /tmp/www/cgi-bin/fail && exec /bin/busybox httpd -f -p 8080 -h /tmp/www',
];
const ROLLOUT = [
  '  rollout:',
  '    steps: [{ percent: 50, durationSeconds: 600 }]',
  '    limits: { maxErrorRate: 0.1, minRequests: 10 }',
];

const fixture = lumaUpFor('rollout-rollback', {});

async function apply(command?: string[]): Promise<void> {
  const base = projectManifest('bad', { image: TEST_IMAGE, hostnames: [HOST], minInstances: 1 });
  const commandLines = command ? ['  command:', ...command.map((part) => `    - ${JSON.stringify(part)}`)] : [];
  const file = path.join(fixture.dir, 'bad.yaml');
  await writeFile(file, `${base.trimEnd()}\n${[...commandLines, ...ROLLOUT].join('\n')}\n`);
  expect((await runCli(['apply', '-f', file], { api: fixture.luma.api })).code).toBe(0);
}

async function project(): Promise<ProjectObject> {
  return JSON.parse(
    (await runCli(['get', 'project/bad', '-o', 'json'], { api: fixture.luma.api })).stdout,
  ) as ProjectObject;
}

describe('a rollout rolls itself back past maxErrorRate', () => {
  it('sends all traffic back to revision 1, with a condition and an event naming the limit', async () => {
    await apply();
    await eventually(async () => expect((await project()).status?.revisions?.latestReady).toBe('bad-1'), 30_000);
    await apply(FAILING);
    await eventually(async () => expect((await project()).status?.rollout?.stepStartedAt).toBeDefined(), 30_000);
    // Half the requests reach revision 2 and fail: past 10 % of 10 requests it rolls back.
    await eventually(async () => {
      for (let index = 0; index < 20; index++) await request(fixture.luma.proxyPort, HOST, '/cgi-bin/fail', 5_000);
      expect((await project()).status?.rollout?.phase).toBe('RolledBack');
      return true;
    }, 30_000);
    const status = (await project()).status;
    expect(status?.rollout?.limit?.name).toBe('maxErrorRate');
    expect(status?.traffic).toEqual([{ revisionName: 'bad-1', percent: 100 }]);
    expect(status?.conditions?.find((condition) => condition.type === 'Rollout')).toMatchObject({
      status: 'False',
      message: expect.stringContaining('maxErrorRate passed'),
    });
    const events = await runCli(['events', 'project/bad'], { api: fixture.luma.api });
    expect(events.stdout).toContain('RolloutRolledBack');
    // Back on revision 1: /cgi-bin/fail is a 404 there, never a 500.
    for (let index = 0; index < 20; index++)
      expect((await request(fixture.luma.proxyPort, HOST, '/cgi-bin/fail', 5_000)).status).toBe(404);
  }, 120_000);
});
