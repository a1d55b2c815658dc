import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RevisionObject } from '../../src/model/types.js';
import { containersOf, TEST_IMAGE } from '../support/docker.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';
import { eventually, projectManifest, request, runCli, type ProjectManifestSpec } from '../support/luma.js';

// Issue 23, revisions: a change to what runs records revision 2, whose instance starts
// while revision 1 keeps serving; traffic moves once 2 is ready, and 1 drains and goes.
// Steady traffic through the real proxy during the change sees no failed request. A
// change that only scales makes no revision; a Revision in a manifest is refused.

const HOST = 'rev.localhost';
/** Parallel sequential loops of requests during the change. */
const LOOPS = 4;
/** Bounds the traffic whatever happens. */
const MAX_TRAFFIC_MS = 60_000;
/** Traffic kept up after the first answer from revision 2. */
const AFTER_SWITCH_MS = 1_500;
/** Revision 2's app waits this long before it listens: revision 1 must cover the gap. */
const SLOW_START = ['/bin/busybox', 'sh', '-c', 'sleep 1.5; exec /bin/busybox httpd -f -p 8080 -h /www'];

interface Answer {
  status: number;
  /** The WHO variable of the instance that answered, or the error. */
  who: string;
}

const fixture = lumaUpFor('revisions', {});

function manifest(spec: Partial<ProjectManifestSpec>): string {
  return projectManifest('rev', { image: TEST_IMAGE, hostnames: [HOST], minInstances: 1, ...spec });
}

async function apply(text: string): Promise<void> {
  const file = path.join(fixture.dir, 'rev.yaml');
  await writeFile(file, text);
  const result = await runCli(['apply', '-f', file], { api: fixture.luma.api });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
}

async function ask(): Promise<Answer> {
  try {
    const answer = await request(fixture.luma.proxyPort, HOST, '/cgi-bin/env', 10_000);
    return { status: answer.status, who: /^WHO=(.*)$/m.exec(answer.body)?.[1] ?? `no WHO` };
  } catch (error) {
    return { status: 0, who: (error as Error).message };
  }
}

/** LOOPS sequential request loops until the first `two` has been answered AFTER_SWITCH_MS ago. */
async function trafficThroughChange(change: () => Promise<void>): Promise<Answer[][]> {
  let switchedAt: number | undefined;
  const deadline = Date.now() + MAX_TRAFFIC_MS;
  const loops = Array.from({ length: LOOPS }, async () => {
    const answers: Answer[] = [];
    while (Date.now() < deadline && (switchedAt === undefined || Date.now() - switchedAt < AFTER_SWITCH_MS)) {
      const answer = await ask();
      answers.push(answer);
      if (answer.who === 'two') switchedAt ??= Date.now();
    }
    return answers;
  });
  await change();
  return Promise.all(loops);
}

async function revisions(): Promise<RevisionObject[]> {
  const result = await runCli(['get', 'revisions', '-l', 'project=rev', '-o', 'json'], { api: fixture.luma.api });
  expect(result.code).toBe(0);
  const list = JSON.parse(result.stdout) as { items: RevisionObject[] };
  return list.items.sort((a, b) => a.spec.number - b.spec.number);
}

async function labelledRevisions(): Promise<string[]> {
  const containers = await containersOf(fixture.instance, 'rev');
  return containers.map((container) => container.Labels['luma.dev/revision'] ?? '(none)').sort();
}

describe('revisions', () => {
  it('revision 1 serves until revision 2 is ready, then drains and goes: no failed request', async () => {
    await apply(manifest({ env: { WHO: 'one' } }));
    await eventually(async () => (await ask()).who === 'one', 30_000, 'revision 1 answering');
    expect((await revisions()).map((revision) => revision.metadata.name)).toEqual(['rev-1']);

    const changed = Date.now();
    const perLoop = await trafficThroughChange(() => apply(manifest({ env: { WHO: 'two' }, command: SLOW_START })));
    const answers = perLoop.flat();
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(answers.filter((answer) => answer.who === 'two').length).toBeGreaterThan(0);
    // Revision 1 answered while 2 was starting (its app sleeps before it listens).
    expect(answers.filter((answer) => answer.who === 'one').length).toBeGreaterThan(LOOPS);
    // Each loop asks one request at a time: once one reached revision 2, none went back to 1.
    for (const loop of perLoop) {
      const first = loop.findIndex((answer) => answer.who === 'two');
      expect(loop.slice(first).filter((answer) => answer.who !== 'two')).toEqual([]);
    }
    expect(Date.now() - changed).toBeGreaterThan(1_500);

    const [one, two] = await revisions();
    expect(one?.status?.phase).toBe('Retired');
    expect(two).toMatchObject({ metadata: { name: 'rev-2' }, spec: { number: 2, image: TEST_IMAGE } });
    expect(two?.spec.template).toMatchObject({ env: { WHO: 'two' }, command: SLOW_START });
    expect(two?.status?.phase).toBe('Ready');
    await eventually(
      async () => JSON.stringify(await labelledRevisions()) === JSON.stringify(['rev-2']),
      15_000,
      "revision 1's instance removed",
    );
  });

  it('a change that only scales makes no revision; the history lists and describes', async () => {
    await apply(manifest({ env: { WHO: 'two' }, command: SLOW_START, maxInstances: 2, idleTimeout: '90s' }));
    await eventually(
      async () => {
        const result = await runCli(['get', 'project', 'rev', '-o', 'json'], { api: fixture.luma.api });
        return JSON.parse(result.stdout).status?.observedGeneration === 3;
      },
      15_000,
      'the scaling change observed',
    );
    expect((await revisions()).map((revision) => revision.metadata.name)).toEqual(['rev-1', 'rev-2']);

    const table = await runCli(['get', 'revisions'], { api: fixture.luma.api });
    expect(table.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+AGE\s+PROJECT\s+NUMBER$/m);
    expect(table.stdout).toMatch(/^rev-2\s+True\s+Ready\s+\S+\s+rev\s+2$/m);
    const described = await runCli(['describe', 'revision', 'rev-2'], { api: fixture.luma.api });
    expect(described.code).toBe(0);
    expect(described.stdout).toContain('Revision');
    expect(described.stdout).toContain('WHO');

    const status = await runCli(['rollout', 'status', 'project/rev', '--timeout', '30s'], { api: fixture.luma.api });
    expect(status.stdout).toContain('project/rev: revision rev-2 serves; rollout complete');
    expect(status.code).toBe(0);
    const history = await runCli(['rollout', 'history', 'project/rev'], { api: fixture.luma.api });
    expect(history.stdout).toMatch(/^1\s+rev-1\s+Retired\s+\S+\s+\S+\s+\(first\)$/m);
    expect(history.stdout).toMatch(/^2\s+rev-2\s+Ready\s+\S+\s+\S+\s+command, env$/m);
  });

  it('refuses a Revision in a manifest, naming the file, line and column', async () => {
    const file = path.join(fixture.dir, 'forged.yaml');
    const forged = [
      'apiVersion: luma.dev/v1alpha1',
      'kind: Revision',
      'metadata: { name: rev-9 }',
      'spec: { project: rev, projectUid: x, number: 9, image: x, template: {} }',
      '',
    ].join('\n');
    await writeFile(file, forged);
    const result = await runCli(['apply', '-f', file], { api: fixture.luma.api });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${file}:2:7: kind: Revision objects are recorded by the controller`);
    expect((await revisions()).map((revision) => revision.metadata.name)).toEqual(['rev-1', 'rev-2']);
  });
});
