// bench/https: HTTPS and HTTP/2 through Luma's proxy against nginx and Caddy, in one run.
//
//   npm run build && npx tsx bench/https.ts [--duration 8] [--rounds 3] [--connections 32]
//                      [--streams 10] [--handshake-clients 3] [--warm-up 15] [--idle 10000]
//                      [--lines h1,alone,h2,full,resumed,idle] [--luma-cli PATH]
//
// Needs: apt-get install -y wrk nginx-light caddy nghttp2-client (and python3, openssl).
//
// One tiny Node backend (bench/lib/backend.ts: `ok\n`), one self-signed ECDSA P-256
// certificate for `localhost` (which resolves to 127.0.0.1 here, so wrk and h2load send it
// as SNI), and three proxies serving it over TLS 1.3 with HTTP/2 offered through ALPN:
//   luma   `luma proxy run --https-listen` with the certificate in --certificates-dir and
//          `luma proxy deploy --tls`, as a user starts it;
//   nginx  one worker, `listen ssl http2`, session tickets on (its default), upstream keep-alive;
//   caddy  a JSON config: no admin endpoint, no automatic HTTPS (no ACME), no HTTP/3,
//          GOMAXPROCS=1 (one core, like the other two: nginx has one worker, Node one thread).
// Each line below is measured for the three in turn, the order rotating every round, so
// that the shared machine's noise hits them alike; the median of the rounds is printed.
//   h1        wrk -t1 -cN over TLS, kept-alive connections: req/s, p50, p99;
//   h1 alone  h2load --h1 -c1, 300 requests one after the other on one connection: the mean
//             time per request. Below 1 ms when healthy; about 44 ms when a response waits for
//             the client's delayed ACK (Nagle's algorithm on; issue 18): the guard line;
//   h2        h2load -cN -mS (S streams in flight per connection), 5,000 requests per second
//             of --duration: req/s;
//   full      new connections per second with full handshakes, and
//   resumed   the same resuming the previous connection's session (TLS 1.3 tickets): several
//             bench/lib/tls-connections.py clients side by side, each connecting, sending one
//             GET with Connection: close and reading the answer, in a loop (why Python and not
//             openssl s_time or h2load: see that file); with each, the CPU time the server's
//             process group used per connection (all threads, from /proc): steadier than the
//             rate on a shared machine, where the clients' share of the cores bounds all three;
//   idle      resident memory of the proxy's process group with --idle kept-alive TLS
//             connections open and idle, minus before they were opened, per connection;
//             measured once, after the rounds.
// --lines measures only the lines named (h1 includes its p50 and p99); the others print "–".
// --warm-up S (default 15, 0 for none): before the first round, each server gets S seconds of
// new connections per handshake line and 1,000×S requests per request line, not counted
// (why: warmUp below).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCaddyConfig } from './lib/caddy.js';
import { freePort, option } from './lib/common.js';
import { groupCpuMs } from './lib/cpu-time.js';
import { runH2load } from './lib/h2load.js';
import { writeNginxTlsConfig } from './lib/nginx.js';
import { residentBytes } from './lib/process-stats.js';
import { ProcessGroup, type BenchProcess } from './lib/processes.js';
import { writeEcdsaCertificate, type CertificateFiles } from './lib/tls-certificate.js';
import { runWrk } from './lib/wrk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** --luma-cli: another build's dist/cli/main.js (a before-and-after comparison); this tree's by default. */
const LUMA_CLI = ((): string => {
  const index = process.argv.indexOf('--luma-cli');
  return index < 0 ? path.join(ROOT, 'dist', 'cli', 'main.js') : path.resolve(process.argv[index + 1] ?? '');
})();
const HOST = 'localhost';
const READY_TIMEOUT_MS = 20_000;
/** HTTP/2 requests per run: about the run's duration at nginx's rate on this machine. */
const H2_REQUESTS_PER_SECOND_OF_RUN = 5_000;
/** Requests per second of --warm-up for the request lines (at most a few seconds each here). */
const WARM_UP_REQUESTS_PER_S = 1_000;
const TOOLS = ['wrk', 'h2load', 'nginx', 'caddy', 'python3', 'openssl'];
const SERVERS = ['luma', 'nginx', 'caddy'] as const;
type ServerName = (typeof SERVERS)[number];

const GOALS = {
  h1VsNginx: 0.6,
  h1P99VsNginx: 1.5,
  h2VsNginx: 0.5,
  fullHandshakesVsNginx: 0.5,
  idleMemoryVsNginx: 2,
} as const;

interface Options {
  durationS: number;
  rounds: number;
  connections: number;
  streams: number;
  handshakeClients: number;
  warmUpS: number;
  idle: number;
  lines: ReadonlySet<LineName>;
}

interface Server {
  name: ServerName;
  port: number;
  process: BenchProcess;
}

type Line = 'h1' | 'h1p50' | 'h1p99' | 'h1alone' | 'h2' | 'full' | 'resumed' | 'fullCpu' | 'resumedCpu';
type Figures = Record<Line, number>;
const LINE_NAMES = ['h1', 'alone', 'h2', 'full', 'resumed', 'idle'] as const;
type LineName = (typeof LINE_NAMES)[number];

function linesOption(): ReadonlySet<LineName> {
  const index = process.argv.indexOf('--lines');
  if (index < 0) return new Set(LINE_NAMES);
  const names = (process.argv[index + 1] ?? '').split(',');
  const unknown = names.filter((name) => !(LINE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`--lines: unknown ${unknown.join(', ')} (known: ${LINE_NAMES.join(', ')})`);
  return new Set(names as LineName[]);
}

function onPath(command: string): boolean {
  return [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].some(
    (dir) => dir && existsSync(path.join(dir, command)),
  );
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/', servername: HOST, headers: { host: HOST }, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(`${res.statusCode ?? 0} ${body}`));
      },
    );
    req.on('error', reject);
    req.setTimeout(2_000, () => req.destroy(new Error('timed out')));
  });
}

async function untilServing(name: string, port: number, owner: BenchProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (!owner.running) throw new Error(`${name} exited:\n${owner.log.trim()}`);
    last = await get(port).catch((error: unknown) => (error as Error).message);
    if (last === '200 ok\n') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not answer 200 ok over HTTPS on ${port} (last: ${last}):\n${owner.log.trim()}`);
}

async function startBackend(processes: ProcessGroup): Promise<number> {
  const backend = processes.start('backend', process.execPath, ['--import', 'tsx', 'bench/lib/backend.ts'], {
    cwd: ROOT,
  });
  return Number((await backend.waitFor(/listening (\d+)/, READY_TIMEOUT_MS))[1]);
}

async function startLuma(
  processes: ProcessGroup,
  tmp: string,
  backendPort: number,
  certificate: CertificateFiles,
  maxConnections: number,
): Promise<Server> {
  const stateDir = path.join(tmp, 'luma');
  const luma = processes.start(
    'luma proxy run',
    process.execPath,
    [
      LUMA_CLI,
      'proxy',
      'run',
      '--listen',
      '127.0.0.1:0',
      '--https-listen',
      '127.0.0.1:0',
      '--certificates-dir',
      path.dirname(certificate.certFile),
      '--max-connections',
      String(maxConnections),
      '--state-dir',
      stateDir,
    ],
    { cwd: ROOT },
  );
  const port = Number((await luma.waitFor(/HTTPS at https:\/\/127\.0\.0\.1:(\d+)/, READY_TIMEOUT_MS))[1]);
  const deploy = ['proxy', 'deploy', 'bench', '--host', HOST, '--target', `127.0.0.1:${backendPort}`, '--tls'];
  await processes.run('luma proxy deploy', process.execPath, [LUMA_CLI, ...deploy, '--state-dir', stateDir], {
    cwd: ROOT,
  });
  await untilServing('luma', port, luma);
  return { name: 'luma', port, process: luma };
}

async function startServers(processes: ProcessGroup, tmp: string, options: Options): Promise<Server[]> {
  const certificate = await writeEcdsaCertificate(path.join(tmp, 'certificates'), HOST);
  const backendPort = await startBackend(processes);
  const maxConnections = options.idle + 1_024;

  const nginxPrefix = path.join(tmp, 'nginx');
  const nginxPort = await freePort();
  const nginxArgs = await writeNginxTlsConfig(nginxPrefix, nginxPort, backendPort, certificate, maxConnections);
  const nginx = processes.start('nginx', '/usr/sbin/nginx', nginxArgs, { cwd: nginxPrefix });
  await untilServing('nginx', nginxPort, nginx);

  const caddyPort = await freePort();
  const caddyStart = await writeCaddyConfig(path.join(tmp, 'caddy'), caddyPort, backendPort, certificate);
  const caddy = processes.start('caddy', 'caddy', caddyStart.args, { env: { ...caddyStart.env, GOMAXPROCS: '1' } });
  await untilServing('caddy', caddyPort, caddy);

  const luma = await startLuma(processes, tmp, backendPort, certificate, maxConnections);
  return [luma, { name: 'nginx', port: nginxPort, process: nginx }, { name: 'caddy', port: caddyPort, process: caddy }];
}

/**
 * New connections per second: `clients` Python clients side by side for durationS; and the
 * milliseconds of CPU the server (its process group) used per connection meanwhile.
 */
async function connectionsPerSecond(
  processes: ProcessGroup,
  server: Server,
  mode: 'full' | 'resumed',
  clients: number,
  durationS: number,
): Promise<{ perSecond: number; cpuMs: number }> {
  const script = path.join(ROOT, 'bench', 'lib', 'tls-connections.py');
  const port = server.port;
  const group = server.process.child.pid ?? 0;
  const cpuBefore = groupCpuMs(group) ?? NaN;
  const outputs = await Promise.all(
    Array.from({ length: clients }, (_, index) =>
      processes.run(`tls-connections ${index}`, 'python3', [script, HOST, String(port), String(durationS), mode], {
        timeoutMs: (durationS + 30) * 1000,
      }),
    ),
  );
  const cpuMs = (groupCpuMs(group) ?? NaN) - cpuBefore;
  let total = 0;
  let connections = 0;
  for (const output of outputs) {
    const match = /connections (\d+) seconds ([\d.]+) resumed (\d+) failed (\d+)/.exec(output);
    if (!match) throw new Error(`tls-connections.py printed:\n${output}`);
    if (Number(match[4]) > 0) process.stdout.write(`  (${match[4]} connections failed)\n`);
    if (mode === 'resumed' && Number(match[3]) < Number(match[1]) - 1)
      process.stdout.write(`  (only ${match[3]} of ${match[1]} connections resumed)\n`);
    total += Number(match[1]) / Number(match[2]);
    connections += Number(match[1]);
  }
  return { perSecond: total, cpuMs: cpuMs / connections };
}

async function measureLine(processes: ProcessGroup, line: Line, server: Server, options: Options): Promise<number> {
  const url = `https://${HOST}:${server.port}/`;
  switch (line) {
    case 'h1':
    case 'h1p50':
    case 'h1p99':
      throw new Error('measured together');
    case 'h1alone':
      return (await runH2load(processes, { url, clients: 1, streams: 1, run: { requests: 300 }, http1: true })).meanMs;
    case 'h2': {
      const result = await runH2load(processes, {
        url,
        clients: options.connections,
        streams: options.streams,
        // A fixed count, not -D: a timed h2load run waits at its end for connections the
        // server keeps open, for good with some of them.
        run: { requests: H2_REQUESTS_PER_SECOND_OF_RUN * options.durationS },
      });
      if (result.errors > 0) process.stdout.write(`  (${server.name} h2: ${result.errors} errors)\n`);
      return result.requestsPerSecond;
    }
    case 'full':
    case 'resumed':
    case 'fullCpu':
    case 'resumedCpu':
      throw new Error('measured by measureConnections');
  }
}

async function measureRound(processes: ProcessGroup, servers: Server[], options: Options, round: number) {
  const order = servers.map((_, index) => servers[(index + round) % servers.length] as Server);
  const figures = new Map<ServerName, Figures>();
  const none: Figures = {
    h1: NaN,
    h1p50: NaN,
    h1p99: NaN,
    h1alone: NaN,
    h2: NaN,
    full: NaN,
    resumed: NaN,
    fullCpu: NaN,
    resumedCpu: NaN,
  };
  for (const server of order) figures.set(server.name, { ...none });
  for (const server of options.lines.has('h1') ? order : []) {
    const wrk = await runWrk(processes, {
      url: `https://${HOST}:${server.port}/`,
      connections: options.connections,
      durationS: options.durationS,
      headers: {},
    });
    if (wrk.errors > 0) process.stdout.write(`  (${server.name} h1: ${wrk.errors} errors)\n`);
    Object.assign(figures.get(server.name) as Figures, {
      h1: wrk.requestsPerSecond,
      h1p50: wrk.p50Ms,
      h1p99: wrk.p99Ms,
    });
  }
  for (const line of ['h1alone', 'h2'] as const) {
    if (!options.lines.has(line === 'h1alone' ? 'alone' : line)) continue;
    for (const server of order)
      (figures.get(server.name) as Figures)[line] = await measureLine(processes, line, server, options);
  }
  for (const mode of ['full', 'resumed'] as const) {
    if (!options.lines.has(mode)) continue;
    for (const server of order) {
      const result = await connectionsPerSecond(processes, server, mode, options.handshakeClients, options.durationS);
      const serverFigures = figures.get(server.name) as Figures;
      serverFigures[mode] = result.perSecond;
      serverFigures[mode === 'full' ? 'fullCpu' : 'resumedCpu'] = result.cpuMs;
    }
  }
  return figures;
}

/**
 * Unmeasured traffic of the selected kinds for every server before the first round. Luma's
 * JavaScript runs interpreted until V8 has seen each function often enough to compile it
 * (a few thousand connections for the per-connection code, a few thousand requests for the
 * fast path), a cost nginx and Caddy, compiled ahead of time, never pay. Without it the
 * first rounds measured Luma's start-up rather than its steady state (on a loaded machine,
 * every round: too few connections per round to warm it), and a proxy runs for days.
 */
async function warmUp(processes: ProcessGroup, servers: Server[], options: Options): Promise<void> {
  if (options.warmUpS <= 0) return;
  const started = Date.now();
  const wantsH1 = options.lines.has('h1') || options.lines.has('alone');
  for (const server of servers) {
    const url = `https://${HOST}:${server.port}/`;
    const requests = WARM_UP_REQUESTS_PER_S * options.warmUpS;
    if (wantsH1) await runH2load(processes, { url, clients: 1, streams: 1, run: { requests }, http1: true });
    if (options.lines.has('h2'))
      await runH2load(processes, { url, clients: options.connections, streams: options.streams, run: { requests } });
    for (const mode of ['full', 'resumed'] as const)
      if (options.lines.has(mode))
        await connectionsPerSecond(processes, server, mode, options.handshakeClients, options.warmUpS);
  }
  process.stdout.write(`warm-up, not counted: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

/** Resident memory of a process group's members (nginx: master and worker). */
async function groupResident(server: Server): Promise<number> {
  const pids = [server.process.child.pid ?? 0];
  const { readdir, readFile } = await import('node:fs/promises');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pids[0]) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pids[0]) pids.push(Number(entry));
  }
  let total = 0;
  for (const pid of pids) total += await residentBytes(pid).catch(() => 0);
  return total;
}

/** Bytes of resident memory per idle kept-alive TLS connection. */
async function idleMemory(processes: ProcessGroup, server: Server, count: number): Promise<number> {
  const before = await groupResident(server);
  const holder = processes.start(
    'idle-tls-clients',
    process.execPath,
    ['--import', 'tsx', 'bench/lib/idle-tls-clients.ts', String(server.port), HOST, String(count)],
    { cwd: ROOT },
  );
  await holder.waitFor(/held \d+/, 600_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const after = await groupResident(server);
  await processes.stop(holder);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  return (after - before) / count;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const fmt = (value: number): string =>
  Number.isNaN(value)
    ? '–'
    : value >= 100
      ? Math.round(value).toLocaleString('en-US')
      : value >= 10
        ? value.toFixed(1)
        : value.toFixed(2);
const load = (): string =>
  os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function report(rounds: Map<ServerName, Figures>[], idle: Map<ServerName, number>, options: Options): string {
  const summary = new Map<ServerName, Figures>();
  for (const name of SERVERS) {
    const figures = {} as Figures;
    for (const line of ['h1', 'h1p50', 'h1p99', 'h1alone', 'h2', 'full', 'resumed', 'fullCpu', 'resumedCpu'] as const)
      figures[line] = median(rounds.map((round) => (round.get(name) as Figures)[line]));
    summary.set(name, figures);
  }
  const of = (name: ServerName): Figures => summary.get(name) as Figures;
  const idleKiB = (name: ServerName): number => (idle.get(name) ?? NaN) / 1024;
  const rows = [
    ['HTTP/1.1 over TLS, req/s', (name: ServerName) => of(name).h1],
    ['HTTP/1.1 over TLS, p50 ms', (name: ServerName) => of(name).h1p50],
    ['HTTP/1.1 over TLS, p99 ms', (name: ServerName) => of(name).h1p99],
    ['HTTP/1.1, one connection, ms per request', (name: ServerName) => of(name).h1alone],
    [`HTTP/2 (${options.streams} streams per connection), req/s`, (name: ServerName) => of(name).h2],
    ['new connections/s, full handshakes', (name: ServerName) => of(name).full],
    ['new connections/s, resumed sessions', (name: ServerName) => of(name).resumed],
    ['server CPU per new connection, full handshake, ms', (name: ServerName) => of(name).fullCpu],
    ['server CPU per new connection, resumed, ms', (name: ServerName) => of(name).resumedCpu],
    [`idle TLS connection (${options.idle.toLocaleString('en-US')}), KiB each`, idleKiB],
  ] as const;
  const out = [
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}; ${options.connections} connections, ` +
      `${options.durationS} s per run, ${options.rounds} round(s), median shown; load average now ${load()}`,
    '',
    '| line | luma | nginx | caddy | luma/nginx | luma/caddy |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [label, value] of rows)
    out.push(
      `| ${label} | ${fmt(value('luma'))} | ${fmt(value('nginx'))} | ${fmt(value('caddy'))} | ${(value('luma') / value('nginx')).toFixed(2)} | ${(value('luma') / value('caddy')).toFixed(2)} |`,
    );
  const luma = of('luma');
  const nginx = of('nginx');
  const caddy = of('caddy');
  const check = (ok: boolean): string => (ok ? '✔' : '✘');
  out.push(
    '',
    `goals: h1 req/s ≥ ${GOALS.h1VsNginx}× nginx ${check(luma.h1 >= GOALS.h1VsNginx * nginx.h1)}; ` +
      `h1 p99 ≤ ${GOALS.h1P99VsNginx}× nginx ${check(luma.h1p99 <= GOALS.h1P99VsNginx * nginx.h1p99)}; ` +
      `h2 ≥ ${GOALS.h2VsNginx}× nginx ${check(luma.h2 >= GOALS.h2VsNginx * nginx.h2)}; ` +
      `full handshakes ≥ ${GOALS.fullHandshakesVsNginx}× nginx ${check(luma.full >= GOALS.fullHandshakesVsNginx * nginx.full)}; ` +
      `idle memory ≤ ${GOALS.idleMemoryVsNginx}× nginx ${check(idleKiB('luma') <= GOALS.idleMemoryVsNginx * idleKiB('nginx'))}; ` +
      `ahead of caddy ${check(luma.h1 > caddy.h1 && luma.h1p99 < caddy.h1p99 && luma.h2 > caddy.h2 && luma.full > caddy.full && luma.resumed > caddy.resumed && idleKiB('luma') < idleKiB('caddy'))}`,
    luma.h1alone > 20
      ? 'warning: HTTP/1.1 requests on one connection take over 20 ms each: a response waits for a delayed ACK (Nagle is on somewhere)'
      : 'HTTP/1.1 on one connection: no delayed-ACK wait (under 20 ms per request)',
  );
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const options: Options = {
    durationS: option('--duration', 8),
    rounds: option('--rounds', 3),
    connections: option('--connections', 32),
    streams: option('--streams', 10),
    handshakeClients: option('--handshake-clients', 3),
    warmUpS: option('--warm-up', 15),
    idle: option('--idle', 10_000),
    lines: linesOption(),
  };
  const missing = TOOLS.filter((tool) => !onPath(tool));
  if (missing.length > 0) {
    process.stderr.write(
      `bench/https needs ${missing.join(', ')}: apt-get install -y wrk nginx-light caddy nghttp2-client python3 openssl\n`,
    );
    process.exitCode = 1;
    return;
  }
  if (!existsSync(LUMA_CLI)) {
    process.stderr.write('bench/https runs the built CLI: run npm run build first\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`load average at the start: ${load()}\n`);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'luma-bench-https-'));
  const processes = new ProcessGroup();
  try {
    const servers = await startServers(processes, tmp, options);
    await warmUp(processes, servers, options);
    const rounds: Map<ServerName, Figures>[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const figures = await measureRound(processes, servers, options, round);
      rounds.push(figures);
      const line = [...figures].map(
        ([name, f]) =>
          `${name} h1 ${fmt(f.h1)}/s p99 ${fmt(f.h1p99)} ms, alone ${fmt(f.h1alone)} ms, h2 ${fmt(f.h2)}/s, full ${fmt(f.full)}/s (${fmt(f.fullCpu)} ms CPU each), resumed ${fmt(f.resumed)}/s (${fmt(f.resumedCpu)} ms)`,
      );
      process.stdout.write(`round ${round + 1}/${options.rounds} (load ${load()}): ${line.join(' · ')}\n`);
    }
    const idle = new Map<ServerName, number>();
    for (const server of options.lines.has('idle') ? servers : []) {
      idle.set(server.name, await idleMemory(processes, server, options.idle));
      process.stdout.write(`idle: ${server.name} ${fmt((idle.get(server.name) ?? 0) / 1024)} KiB per connection\n`);
    }
    process.stdout.write(report(rounds, idle, options));
  } finally {
    await processes.stopAll();
    processes.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/https failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
