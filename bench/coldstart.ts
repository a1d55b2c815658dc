// bench/coldstart: first-request latency through Luma against raw Docker, in one run.
//
//   npm run build && npx tsx bench/coldstart.ts [--iterations 15] [--tiers stopped,fresh,paused]
//
// Ways to get a first HTTP 200 from the busybox test app, interleaved round by round so
// that machine noise hits them alike (a first warm-up round is discarded). The raw Docker
// containers join a bridge with inter-container traffic off, as Luma's do:
//   docker-cli stopped     `docker start` of a stopped container, then poll until HTTP 200
//   docker-api stopped     the same through the Engine API (dockerode, no CLI process)
//   luma stopped           a request through Luma's proxy to a project idled to a stopped container
//   docker-cli fresh       `docker run -d`, then poll until HTTP 200
//   docker-api fresh       create + start through the Engine API, then poll
//   luma fresh             the same after the stopped container was removed (Luma creates one)
//   docker-cli paused      `docker unpause` of a paused container, then poll until HTTP 200
//   docker-api paused      `unpause` through the Engine API, then poll until HTTP 200
//   docker-api unpause     that Engine API `unpause` call alone (the floor of the paused tier)
//   luma paused            time to first byte for a project frozen by pauseAfter (Luma unpauses it)
//   swarm (asked for only: root, a one-node swarm and a registry of its own; bench/lib/swarm-coldstart.ts)
//     docker service scale  `docker service scale NAME=1`, then poll its host-mode port until HTTP 200
//     luma swarm            a request through `luma up --runtime swarm` to a project scaled to zero
//
// --trace: `luma up` stamps each step of the paused tier's wake (src/util/wake-trace.ts)
// and the bench prints where the time to first byte went, step by step (lib/wake-trace.ts).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import {
  buildTestImage,
  containersOf,
  docker,
  removeInstanceContainers,
  runningContainersOf,
  TEST_IMAGE,
  testInstance,
} from '../test/support/docker.js';
import { eventually, projectManifest, request, runCli, startLuma, tempDir, writeConfig } from '../test/support/luma.js';
import { ICC_OPTION } from '../src/runtime/docker-network.js';
import { freePort, percentile } from './lib/common.js';
import { swarmTier } from './lib/swarm-coldstart.js';
import { describeRound, formatBreakdown, stampsSince, WAKE_TRACE_ENV, type WakeRound } from './lib/wake-trace.js';

const run = promisify(execFile);
const POLL_MS = 5;
/**
 * How long after Docker reports Luma's container paused the paused tier's request is sent:
 * the reconcile that froze it (and the one Docker's pause event wakes) have finished by
 * then, as they have when a real visitor comes back seconds or minutes later.
 */
const PAUSED_SETTLE_MS = 300;
const TIERS = ['stopped', 'fresh', 'paused', 'swarm'] as const;
type Tier = (typeof TIERS)[number];
/** Without --tiers: the swarm tier needs root and starts a swarm of its own, so it is asked for by name. */
const DEFAULT_TIERS = ['stopped', 'fresh', 'paused'];

const USAGE = `usage: npx tsx bench/coldstart.ts [--iterations N] [--tiers ${TIERS.join(',')}] [--trace]

  --iterations N   measured rounds (default 15; one more warm-up round is discarded)
  --tiers LIST     which tiers to measure, comma-separated, of ${TIERS.join(', ')} (default: ${DEFAULT_TIERS.join(',')})
  --trace          stamp the paused tier's wake inside Luma and print where its time went
  --help           this text

Runs the built CLI (dist/): run \`npm run build\` first.`;

interface Options {
  iterations: number;
  tiers: Set<Tier>;
  trace: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string' },
      tiers: { type: 'string' },
      trace: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const iterations = Number(values.iterations ?? 15);
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new Error(`--iterations: expected a whole number of rounds of at least 1, got "${values.iterations}"`);
  const tiers = new Set<Tier>();
  for (const raw of (values.tiers ?? DEFAULT_TIERS.join(',')).split(',')) {
    const tier = raw.trim();
    if (!(TIERS as readonly string[]).includes(tier))
      throw new Error(`--tiers: "${tier}" is not a tier; expected some of ${TIERS.join(', ')}`);
    tiers.add(tier as Tier);
  }
  return { iterations, tiers, trace: values.trace ?? false };
}

function getOnce(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function pollUntil200(port: number): Promise<void> {
  for (;;) {
    if ((await getOnce(port)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The wall clock in milliseconds, with fractions: comparable with the stamps of `luma up`. */
const wallClock = (): number => performance.timeOrigin + performance.now();

/** When the request was sent and when its response head arrived (wall clock, ms). */
function timeToFirstByte(port: number, host: string): Promise<{ sentAt: number; headAt: number }> {
  return new Promise((resolve, reject) => {
    const sentAt = wallClock();
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      const headAt = wallClock();
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve({ sentAt, headAt }) : reject(new Error(`luma answered ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
  });
}

async function timed(action: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main({ iterations, tiers, trace }: Options): Promise<void> {
  await buildTestImage();
  if (tiers.has('swarm')) await swarmTier(iterations);
  if (![...tiers].some((tier) => tier !== 'swarm')) return;
  const instance = testInstance('bench');
  const dir = await tempDir('bench-coldstart');
  await mkdir(path.join(dir, 'manifests'));
  const config = await writeConfig(dir, { resyncInterval: '30s', stopTimeout: '2s' });
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
    ...(trace ? { env: { [WAKE_TRACE_ENV]: '1' } } : {}),
  });
  const wakeRounds: WakeRound[] = [];
  const paths: Record<Tier, string[]> = {
    stopped: ['docker-cli stopped', 'docker-api stopped', 'luma stopped'],
    fresh: ['docker-cli fresh', 'docker-api fresh', 'luma fresh'],
    paused: ['docker-cli paused', 'docker-api paused', 'docker-api unpause', 'luma paused'],
    swarm: [], // measured and printed on its own, above
  };
  const samples = new Map<string, number[]>(
    TIERS.filter((tier) => tiers.has(tier)).flatMap((tier) =>
      paths[tier].map((name): [string, number[]] => [name, []]),
    ),
  );
  const baselineName = `luma-bench-baseline-${process.pid}`;
  try {
    const file = path.join(dir, 'bench.yaml');
    await writeFile(
      file,
      projectManifest('bench', { image: TEST_IMAGE, hostnames: ['bench.localhost'], idleTimeout: '1s' }),
    );
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const pausedFile = path.join(dir, 'paused.yaml');
    await writeFile(
      pausedFile,
      projectManifest('benchp', {
        image: TEST_IMAGE,
        hostnames: ['benchp.localhost'],
        idleTimeout: '300s',
        pauseAfter: '1s',
      }),
    );
    const appliedPaused = await runCli(['apply', '-f', pausedFile], { api: luma.api });
    if (appliedPaused.code !== 0) throw new Error(appliedPaused.stderr);

    // The baselines' containers join a bridge like Luma's (docker-network.ts): on Docker
    // 20.10 a start there takes about 80 ms more than on the default bridge (318 against
    // 401 ms p50, 2026-12-07), a cost of the isolation and not of Luma.
    await run('docker', ['network', 'create', '-o', `${ICC_OPTION}=false`, baselineName]);
    const port = await freePort();
    await run('docker', [
      'create',
      ...['--name', baselineName, '--network', baselineName, '--init'],
      ...['-p', `127.0.0.1:${port}:8080`, TEST_IMAGE],
    ]);
    const baseline = docker.getContainer(baselineName);

    const idle = async (): Promise<void> => {
      await eventually(
        async () => (await runningContainersOf(instance, 'bench')).length === 0,
        20_000,
        'luma idle stop',
      );
    };

    for (let i = 0; i < iterations + 1; i++) {
      const round = new Map<string, number>();
      if (tiers.has('stopped')) {
        round.set(
          'docker-cli stopped',
          await timed(async () => {
            await run('docker', ['start', baselineName]);
            await pollUntil200(port);
          }),
        );
        await run('docker', ['stop', '-t', '2', baselineName]);
        round.set(
          'docker-api stopped',
          await timed(async () => {
            await baseline.start();
            await pollUntil200(port);
          }),
        );
        await baseline.stop({ t: 2 });
        // The first round also gives the project its first (stopped) container.
        if (i === 0) await request(luma.proxyPort, 'bench.localhost');
        await idle();
        round.set(
          'luma stopped',
          await timed(async () => {
            const answer = await request(luma.proxyPort, 'bench.localhost');
            if (answer.status !== 200) throw new Error(`luma answered ${answer.status}`);
          }),
        );
      }

      if (tiers.has('fresh')) {
        const freshPort = await freePort();
        round.set(
          'docker-cli fresh',
          await timed(async () => {
            await run('docker', [
              'run',
              '-d',
              '--init',
              '--name',
              `${baselineName}-fresh`,
              '--network',
              baselineName,
              '-p',
              `127.0.0.1:${freshPort}:8080`,
              TEST_IMAGE,
            ]);
            await pollUntil200(freshPort);
          }),
        );
        await run('docker', ['rm', '-f', `${baselineName}-fresh`]);
        const apiFreshPort = await freePort();
        round.set(
          'docker-api fresh',
          await timed(async () => {
            const created = await docker.createContainer({
              Image: TEST_IMAGE,
              name: `${baselineName}-fresh`,
              ExposedPorts: { '8080/tcp': {} },
              HostConfig: {
                Init: true,
                NetworkMode: baselineName,
                PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(apiFreshPort) }] },
              },
            });
            await created.start();
            await pollUntil200(apiFreshPort);
          }),
        );
        await docker.getContainer(`${baselineName}-fresh`).remove({ force: true });
        await idle();
        for (const container of await containersOf(instance, 'bench'))
          await docker.getContainer(container.Id).remove({ force: true });
        round.set(
          'luma fresh',
          await timed(async () => {
            const answer = await request(luma.proxyPort, 'bench.localhost');
            if (answer.status !== 200) throw new Error(`luma answered ${answer.status}`);
          }),
        );
      }

      if (tiers.has('paused')) {
        // Raw Docker: the same container paused, thawed by the CLI, paused again, thawed through the API.
        await run('docker', ['start', baselineName]);
        await pollUntil200(port);
        await baseline.pause();
        round.set(
          'docker-cli paused',
          await timed(async () => {
            await run('docker', ['unpause', baselineName]);
            await pollUntil200(port);
          }),
        );
        await baseline.pause();
        let unpauseCall = NaN;
        round.set(
          'docker-api paused',
          await timed(async () => {
            unpauseCall = await timed(() => baseline.unpause() as Promise<void>);
            await pollUntil200(port);
          }),
        );
        round.set('docker-api unpause', unpauseCall);
        await baseline.stop({ t: 2 });
        // Luma froze the container 1 s after the last request; the request thaws it.
        if (i === 0) await request(luma.proxyPort, 'benchp.localhost');
        await eventually(
          async () => (await containersOf(instance, 'benchp')).some((container) => container.State === 'paused'),
          20_000,
          'luma pause',
        );
        await new Promise((resolve) => setTimeout(resolve, PAUSED_SETTLE_MS));
        const { sentAt, headAt } = await timeToFirstByte(luma.proxyPort, 'benchp.localhost');
        round.set('luma paused', headAt - sentAt);
        if (trace && i > 0) {
          const traced = { sentAt, headAt, stamps: await stampsSince(luma.output, sentAt) };
          wakeRounds.push(traced);
          process.stderr.write(`  wake trace: ${describeRound(traced)}\n`);
        }
      }

      if (i > 0) for (const [name, value] of round) samples.get(name)?.push(value); // round 0 warms caches
      const summary = [...round]
        .filter(([name]) => name.startsWith('luma'))
        .map(([name, value]) => `${name} ${value.toFixed(1)} ms`);
      process.stderr.write(`round ${i}/${iterations}${i === 0 ? ' (warm-up)' : ''}: ${summary.join(', ')}\n`);
    }
  } finally {
    await luma.stop();
    await removeInstanceContainers(instance);
    await run('docker', ['rm', '-f', baselineName, `${baselineName}-fresh`]).catch(() => undefined);
    await run('docker', ['network', 'rm', baselineName]).catch(() => undefined);
  }

  const stats = (name: string): { p50: number; p95: number } => {
    const values = samples.get(name) ?? [];
    return { p50: percentile(values, 50), p95: percentile(values, 95) };
  };
  const ratio = (luma: string, base: string): string => {
    const a = stats(luma);
    const b = stats(base);
    return `${(a.p50 / b.p50).toFixed(2)} | ${(a.p95 / b.p95).toFixed(2)}`;
  };
  console.log(`\nbench/coldstart: ${iterations} rounds, ${new Date().toISOString()}, node ${process.version}\n`);
  console.log('| path | p50 ms | p95 ms |');
  console.log('|---|---:|---:|');
  for (const name of samples.keys())
    console.log(`| ${name} | ${stats(name).p50.toFixed(1)} | ${stats(name).p95.toFixed(1)} |`);
  console.log('\n| ratio (Luma / baseline) | p50 | p95 | goal |');
  console.log('|---|---:|---:|---|');
  for (const tier of (['stopped', 'fresh'] as const).filter((name) => tiers.has(name))) {
    for (const base of ['docker-cli', 'docker-api']) {
      console.log(
        `| ${tier} vs ${base} | ${ratio(`luma ${tier}`, `${base} ${tier}`)} | ${base === 'docker-cli' ? '≤ 1.10' : '(reference)'} |`,
      );
    }
  }
  if (tiers.has('paused')) {
    console.log(`| paused vs docker-cli paused | ${ratio('luma paused', 'docker-cli paused')} | (reference) |`);
    console.log(`| paused vs docker-api paused | ${ratio('luma paused', 'docker-api paused')} | (reference) |`);
    console.log(`| paused vs docker-api unpause call | ${ratio('luma paused', 'docker-api unpause')} | p50 ≤ 1.20 |`);
    const p50 = stats('luma paused').p50;
    console.log(`| paused: luma time to first byte p50 | ${p50.toFixed(1)} ms | | ≤ 20 ms ${p50 <= 20 ? '✔' : '✘'} |`);
    if (trace) console.log(`\n${formatBreakdown(wakeRounds, stats('docker-api unpause').p50)}`);
  }
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`bench/coldstart: ${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
main(options).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
