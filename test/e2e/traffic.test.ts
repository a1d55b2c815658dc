import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { TEST_IMAGE } from '../support/docker.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';
import { eventually, projectManifest, request, runCli } from '../support/luma.js';

// Issue 23, traffic: a project splits its requests among its revisions on the real
// engine through the real proxy. Revision 1 answers WHO=one, revision 2 WHO=two (the
// same image, another env: another revision). A 90/10 split, tag hostnames that reach
// one revision only, `luma rollout undo` back to revision 1 under steady traffic, and a
// revision that never becomes ready, which never gets a request.

const HOST = 'tr.localhost';
/** Requests of the split, and how many go out at once. */
const SPLIT_REQUESTS = 1_000;
const SPLIT_CONCURRENCY = 8;
/** Parallel sequential request loops of steady traffic. */
const LOOPS = 4;

interface Answer {
  status: number;
  who: string;
  sentAt: number;
}

const fixture = lumaUpFor('traffic', {});

function manifest(who: string, extra: string[] = []): string {
  const base = projectManifest('tr', { image: TEST_IMAGE, hostnames: [HOST], env: { WHO: who }, idleTimeout: '120s' });
  return base + extra.map((line) => `${line}\n`).join('');
}

async function apply(text: string): Promise<void> {
  const file = path.join(fixture.dir, 'tr.yaml');
  await writeFile(file, text);
  const result = await runCli(['apply', '-f', file], { api: fixture.luma.api });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
}

async function ask(host = HOST): Promise<Answer> {
  const sentAt = Date.now();
  try {
    const answer = await request(fixture.luma.proxyPort, host, '/cgi-bin/env', 15_000);
    return { status: answer.status, who: /^WHO=(.*)$/m.exec(answer.body)?.[1] ?? 'no WHO', sentAt };
  } catch (error) {
    return { status: 0, who: (error as Error).message, sentAt };
  }
}

async function project(): Promise<ProjectObject> {
  const result = await runCli(['get', 'project', 'tr', '-o', 'json'], { api: fixture.luma.api });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as ProjectObject;
}

async function routed(): Promise<string> {
  return JSON.stringify((await project()).status?.traffic?.map((t) => [t.revisionName, t.percent]));
}

/** `count` requests, `concurrency` at a time. */
async function many(count: number, concurrency: number, host = HOST): Promise<Answer[]> {
  const answers: Answer[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < count) {
        sent++;
        answers.push(await ask(host));
      }
    }),
  );
  return answers;
}

/** LOOPS sequential request loops while `during` runs, and `afterMs` more. */
async function steadyTraffic(during: () => Promise<void>, afterMs: number): Promise<Answer[]> {
  let stopAt = Number.POSITIVE_INFINITY;
  const loops = Array.from({ length: LOOPS }, async () => {
    const answers: Answer[] = [];
    while (Date.now() < stopAt) answers.push(await ask());
    return answers;
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await during();
  stopAt = Date.now() + afterMs;
  return (await Promise.all(loops)).flat();
}

const SPLIT = [
  '  traffic:',
  '    - { revisionName: tr-1, percent: 90, tag: one }',
  '    - { latestRevision: true, percent: 10, tag: latest }',
];

describe('traffic', () => {
  it('splits 90/10 between revision 1 and the latest ready revision within a few points over 1,000 requests', async () => {
    await apply(manifest('one'));
    await eventually(async () => (await ask()).who === 'one', 30_000, 'revision 1 answering');
    await apply(manifest('two', SPLIT));
    // Revision 2 starts once by itself, becomes the latest ready, and takes its 10 %.
    await eventually(async () => (await routed()) === '[["tr-1",90],["tr-2",10]]', 30_000, 'the split routed');

    const answers = await many(SPLIT_REQUESTS, SPLIT_CONCURRENCY);
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    const two = answers.filter((answer) => answer.who === 'two').length;
    const one = answers.filter((answer) => answer.who === 'one').length;
    expect(one + two).toBe(SPLIT_REQUESTS);
    expect(Math.abs(two / SPLIT_REQUESTS - 0.1)).toBeLessThanOrEqual(0.03);

    const described = await runCli(['describe', 'project', 'tr'], { api: fixture.luma.api });
    expect(described.stdout).toMatch(/Traffic:/);
    expect(described.stdout).toMatch(/tr-1\s+90%\s+one\s+http:\/\/one---tr\.localhost/);
    expect(described.stdout).toMatch(/tr-2\s+10%\s+latest\s+http:\/\/latest---tr\.localhost/);
  });

  it('a tag hostname reaches its revision only', async () => {
    const viaOne = await many(40, 4, 'one---tr.localhost');
    expect(new Set(viaOne.map((answer) => `${answer.status} ${answer.who}`))).toEqual(new Set(['200 one']));
    const viaLatest = await many(40, 4, 'latest---tr.localhost');
    expect(new Set(viaLatest.map((answer) => `${answer.status} ${answer.who}`))).toEqual(new Set(['200 two']));
  });

  it('a tag moved to another revision moves its hostname, in both directions at once', async () => {
    // Swapped: "one" now tags revision 2 (the project's own route), "latest" revision 1.
    await apply(
      manifest('two', [
        '  traffic:',
        '    - { revisionName: tr-1, percent: 90, tag: latest }',
        '    - { latestRevision: true, percent: 10, tag: one }',
      ]),
    );
    const tags = async (): Promise<string> =>
      JSON.stringify((await project()).status?.traffic?.map((target) => target.tag));
    await eventually(async () => (await tags()) === '["latest","one"]', 30_000, 'the tags swapped');
    await eventually(
      async () => (await ask('one---tr.localhost')).who === 'two' && (await ask('latest---tr.localhost')).who === 'one',
      15_000,
      'the tag hostnames moved',
    );
    const viaOne = await many(20, 4, 'one---tr.localhost');
    expect(new Set(viaOne.map((answer) => `${answer.status} ${answer.who}`))).toEqual(new Set(['200 two']));
    const viaLatest = await many(20, 4, 'latest---tr.localhost');
    expect(new Set(viaLatest.map((answer) => `${answer.status} ${answer.who}`))).toEqual(new Set(['200 one']));
  });

  it('rollout undo returns all traffic to revision 1 within one second, with no failed request', async () => {
    let undoneAt = 0;
    const answers = await steadyTraffic(async () => {
      const result = await runCli(['rollout', 'undo', '--to-revision=1', 'project/tr'], { api: fixture.luma.api });
      undoneAt = Date.now();
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('all traffic to revision tr-1');
    }, 3_000);
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    const late = answers.filter((answer) => answer.sentAt >= undoneAt + 1_000);
    expect(late.length).toBeGreaterThan(LOOPS);
    expect(late.filter((answer) => answer.who !== 'one')).toEqual([]);
    expect(await routed()).toBe('[["tr-1",100]]');
  });

  it('a revision that never becomes ready never receives a request', async () => {
    // Revision 3's app listens on another port than the one declared: never ready, and a
    // request sent to it would fail.
    const never = manifest('three', [
      '  command: ["/bin/busybox", "httpd", "-f", "-p", "8081", "-h", "/www"]',
      '  readiness:',
      '    startupTimeout: 3s',
      '  traffic:',
      '    - { latestRevision: true, percent: 100 }',
    ]);
    const answers = await steadyTraffic(() => apply(never), 8_000);
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(answers.filter((answer) => answer.who === 'three')).toEqual([]);
    // The latest ready revision (2, the last that was) serves.
    expect(answers.filter((answer) => answer.sentAt > Date.now() - 4_000).map((answer) => answer.who)).toContain('two');
    const status = (await project()).status;
    expect(status?.revisions?.latestCreated).toBe('tr-3');
    expect(status?.traffic?.map((target) => target.revisionName)).toEqual(['tr-2']);
  });
});
