import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { removeInstanceContainers, testInstance } from '../support/docker.js';
import { Api, httpdContext, imageManifest, removeInstanceImages, uniqueName } from '../support/images.js';
import {
  authHeader,
  cliEnv,
  eventually,
  projectManifest,
  REPO_ROOT,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type ApiEndpoint,
  type LumaProcess,
} from '../support/luma.js';

// Issue 5's logs through a real `luma up`, the real CLI and a WebSocket client: an app
// prints a line when it gets a request (a CGI script writing to stderr), and `luma logs
// project/X -f` and the WebSocket both receive it within a second; an idle log WebSocket
// stays open on heartbeats; a project scaled to zero is waited for.

const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const HEARTBEAT = '300ms';
const LOG_CGI = {
  content: [
    '#!/bin/busybox sh',
    '# Prints a line to the container log (stderr) for every request.',
    'printf "log: %s\\n" "$QUERY_STRING" >&2',
    'printf "Content-Type: text/plain\\r\\n\\r\\n"',
    'echo "logged $QUERY_STRING"',
    '',
  ].join('\n'),
  mode: 0o755,
};
const LINE = /^\[([a-z0-9-]+)\] (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$/;

interface Arrival {
  text: string;
  at: number;
}

/** `luma logs ...` left running, with each line it prints and when it arrived. */
class LogsProcess {
  readonly stdout: Arrival[] = [];
  readonly stderr: Arrival[] = [];
  readonly exited: Promise<number>;
  private readonly child: ChildProcess;

  constructor(api: ApiEndpoint, args: string[]) {
    this.child = spawn(process.execPath, [CLI, 'logs', ...args], {
      env: { ...process.env, ...cliEnv(api) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.collect(this.child.stdout!, this.stdout);
    this.collect(this.child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code ?? -1)));
  }

  find(lines: Arrival[], pattern: RegExp): Arrival | undefined {
    return lines.find((line) => pattern.test(line.text));
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  private collect(stream: NodeJS.ReadableStream, into: Arrival[]): void {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        into.push({ text: buffered.slice(0, newline), at: Date.now() });
        buffered = buffered.slice(newline + 1);
      }
    });
  }
}

interface LogMessage {
  type: string;
  instance?: string;
  stream?: string;
  time?: string;
  line?: string;
  reason?: string;
  at: number;
}

function openLogSocket(
  api: ApiEndpoint,
  urlPath: string,
): { ws: WebSocket; messages: LogMessage[]; opened: Promise<void>; closed: Promise<number> } {
  const ws = new WebSocket(`${api.server.replace(/^http/, 'ws')}${urlPath}`, { headers: authHeader(api) });
  const messages: LogMessage[] = [];
  ws.on('message', (data: Buffer) =>
    messages.push({ ...(JSON.parse(data.toString()) as Omit<LogMessage, 'at'>), at: Date.now() }),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  return { ws, messages, opened, closed };
}

describe('luma logs and the log WebSocket', () => {
  const instance = testInstance('logs');
  const image = uniqueName('logapp');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;
  const running: LogsProcess[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    dir = await tempDir('logs');
    await mkdir(path.join(dir, 'manifests'));
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s', logHeartbeatInterval: HEARTBEAT });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
    });
    api = new Api(luma.api);
    await httpdContext(path.join(dir, 'app', 'site'), 'hi\n', { 'www/cgi-bin/log': LOG_CGI });
    const manifest = path.join(dir, 'app', 'luma.yaml');
    await writeFile(
      manifest,
      [
        imageManifest(image, { context: './site' }),
        projectManifest('talk', { image, hostnames: ['talk.localhost'], minInstances: 1 }),
        projectManifest('cold', { image, hostnames: ['cold.localhost'], idleTimeout: '60s' }),
      ].join('---\n'),
    );
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(
      async () => (await api.project('talk')).status?.phase === 'Running',
      60_000,
      'project talk Running',
    );
  });

  afterEach(() => {
    for (const logs of running.splice(0)) logs.stop();
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function follow(args: string[]): LogsProcess {
    const logs = new LogsProcess(luma.api, args);
    running.push(logs);
    return logs;
  }

  function socket(urlPath: string): ReturnType<typeof openLogSocket> {
    const opened = openLogSocket(luma.api, urlPath);
    sockets.push(opened.ws);
    return opened;
  }

  async function get(host: string, query: string): Promise<void> {
    const answer = await request(luma.proxyPort, host, `/cgi-bin/log?${query}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(`logged ${query}\n`);
  }

  it('`luma logs project/X -f` and the WebSocket get a line the app prints within a second of the request', async () => {
    const cli = follow(['project/talk', '-f', '--tail', '0']);
    const ws = socket('/api/v1alpha1/projects/talk/log?follow=true&tail=0');
    await ws.opened;
    // Both readers are attached once a first line reaches them.
    await eventually(
      async () => {
        await get('talk.localhost', 'warm-up');
        return cli.find(cli.stderr, /log: warm-up$/) && ws.messages.some((message) => message.line === 'log: warm-up');
      },
      15_000,
      'both readers attached',
    );

    const sent = Date.now();
    await get('talk.localhost', 'ping-1');
    const [printed, message] = await eventually(
      async () => {
        const line = cli.find(cli.stderr, /log: ping-1$/);
        const received = ws.messages.find((candidate) => candidate.line === 'log: ping-1');
        return line && received ? ([line, received] as const) : undefined;
      },
      5_000,
      'the line on both readers',
    );
    expect(printed.at - sent, 'the CLI got the line within a second').toBeLessThan(1_000);
    expect(message.at - sent, 'the WebSocket got the line within a second').toBeLessThan(1_000);

    // The CLI prefixes the instance and stamps RFC 3339; the app wrote it on stderr, so it is on stderr.
    const match = LINE.exec(printed.text);
    expect(match, printed.text).not.toBeNull();
    expect(match![1]).toMatch(/^talk-[0-9a-f]{6}$/);
    expect(match![3]).toBe('log: ping-1');
    expect(message).toMatchObject({ type: 'line', instance: match![1], stream: 'stderr', time: match![2] });
    expect(cli.stdout).toEqual([]);
  });

  it("`luma logs lease/X -f` and the WebSocket get a line a lease's app prints within a second, from a pool-claimed container", async () => {
    const manifest = path.join(dir, 'app', 'lease.yaml');
    await writeFile(
      manifest,
      projectManifest('pooled', { image, hostnames: ['pooled.localhost'] }) +
        '  pool:\n    size: 1\n---\napiVersion: luma.dev/v1alpha1\nkind: Lease\nmetadata:\n  name: mine\nspec:\n  project: pooled\n  ttl: 10m\n',
    );
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(async () => (await api.lease('mine')).status?.phase === 'Active', 60_000, 'lease mine Active');

    const cli = follow(['lease/mine', '-f', '--tail', '0']);
    const ws = socket('/api/v1alpha1/leases/mine/log?follow=true&tail=0');
    await ws.opened;
    await eventually(
      async () => {
        await get('mine.pooled.localhost', 'lease-warm-up');
        return (
          cli.find(cli.stderr, /log: lease-warm-up$/) &&
          ws.messages.some((message) => message.line === 'log: lease-warm-up')
        );
      },
      15_000,
      'both lease readers attached',
    );
    const sent = Date.now();
    await get('mine.pooled.localhost', 'lease-ping');
    const [printed, message] = await eventually(
      async () => {
        const line = cli.find(cli.stderr, /log: lease-ping$/);
        const received = ws.messages.find((candidate) => candidate.line === 'log: lease-ping');
        return line && received ? ([line, received] as const) : undefined;
      },
      5_000,
      'the lease line on both readers',
    );
    expect(printed.at - sent, 'the CLI got the line within a second').toBeLessThan(1_000);
    expect(message.at - sent, 'the WebSocket got the line within a second').toBeLessThan(1_000);
  });

  it('keeps an idle log WebSocket open on heartbeats', async () => {
    const ws = socket('/api/v1alpha1/projects/talk/log?follow=true&tail=0');
    await ws.opened;
    let pings = 0;
    ws.ws.on('ping', () => pings++);
    // Well past several 300 ms heartbeat intervals with nothing to say.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(ws.ws.readyState).toBe(WebSocket.OPEN);
    expect(ws.messages.filter((message) => message.type === 'heartbeat').length).toBeGreaterThanOrEqual(3);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(ws.messages.filter((message) => message.type !== 'heartbeat')).toEqual([]);
  });

  it('waits for a project scaled to zero and follows the instance its first request starts', async () => {
    const cli = follow(['project/cold', '-f', '--no-timestamps']);
    await eventually(
      async () => cli.find(cli.stderr, /^luma: project\/cold has no running instance; waiting for one to start$/),
      10_000,
      'the waiting notice',
    );
    await get('cold.localhost', 'wake-up');
    const printed = await eventually(
      async () => cli.find(cli.stderr, /log: wake-up$/),
      10_000,
      'the first line of the new instance',
    );
    expect(printed.text).toMatch(/^\[cold-[0-9a-f]{6}\] log: wake-up$/);
  });

  it('reads without -f and exits 0; refuses bad input with one line and exit 1; keeps image logs', async () => {
    await get('talk.localhost', 'read-back');
    const read = await eventually(
      async () => {
        const result = await runCli(['logs', 'project/talk', '--tail', '3'], { api: luma.api });
        return result.stderr.includes('log: read-back') ? result : undefined;
      },
      5_000,
      'the line in a plain read',
    );
    expect(read.code).toBe(0);
    expect(read.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);

    for (const [args, message] of [
      [['project/nope'], 'error: Project "nope" not found\n'],
      [['lease/nope', '-f'], 'error: Lease "nope" not found\n'],
      [['project/talk', '--tail', 'ten'], 'error: --tail: expected a whole number of lines (0 or more), got "ten"\n'],
      [
        ['project/talk', '--since', 'soon'],
        'error: --since: expected an RFC 3339 time such as 2026-01-02T15:04:05Z or a duration such as 10m, got "soon"\n',
      ],
      [
        [`image/${image}`, '--tail', '5'],
        "error: --tail applies to project and lease logs, not to an image's build output\n",
      ],
    ] as const) {
      const result = await runCli(['logs', ...args], { api: luma.api });
      expect([result.code, result.stderr], args.join(' ')).toEqual([1, message]);
    }

    const build = await runCli(['logs', `image/${image}`], { api: luma.api });
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toContain('Successfully tagged');
  });

  it('ends a followed log with exit 0 when the project is deleted, the WebSocket with 4404', async () => {
    const cli = follow(['project/cold', '-f']);
    const ws = socket('/api/v1alpha1/projects/cold/log?follow=true');
    await ws.opened;
    await eventually(
      async () => ws.messages.some((message) => message.type === 'heartbeat'),
      5_000,
      'the WebSocket following',
    );
    const deleted = await runCli(['delete', 'project', 'cold'], { api: luma.api });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await cli.exited).toBe(0);
    expect(cli.find(cli.stderr, /^luma: project\/cold was deleted$/)).toBeDefined();
    expect(await ws.closed).toBe(4404);
  });
});
