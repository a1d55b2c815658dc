import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type ApiEndpoint,
  type LumaProcess,
} from '../support/luma.js';
import { startController, startProxy, type ControllerProcess, type ProxyProcess } from '../support/proxy.js';

// Issue 17: two projects swap their hostnames in one `luma apply`. The swap must converge
// (each host answering from its new project, both projects Running) under steady traffic,
// and once it has, no request may be answered by the wrong project. Run in both forms:
// `luma up` (management in-process) and `luma controller` + `luma proxy run` (the socket).

const HOSTS = ['first.localhost', 'second.localhost'] as const;
/** Bounds the traffic loops whatever happens: requests per host, and time. */
const MAX_REQUESTS_PER_HOST = 3_000;
const MAX_TRAFFIC_MS = 60_000;
/** Traffic kept up after convergence, all of which must reach the right project. */
const AFTER_CONVERGENCE_MS = 2_000;

interface Answer {
  host: string;
  startedAt: number;
  status: number;
  /** The project that answered (its WHO variable), or the error. */
  who: string;
}

function manifests(firstOwner: string, secondOwner: string): string {
  const spec = (name: string, host: string): string =>
    projectManifest(name, { image: TEST_IMAGE, hostnames: [host], env: { WHO: name }, minInstances: 1 });
  const byName = { alpha: '', beta: '' } as Record<string, string>;
  byName[firstOwner] = HOSTS[0];
  byName[secondOwner] = HOSTS[1];
  return `${spec('alpha', byName.alpha as string)}---\n${spec('beta', byName.beta as string)}`;
}

async function ask(port: number, host: string): Promise<Answer> {
  const startedAt = Date.now();
  try {
    const answer = await request(port, host, '/cgi-bin/env', 5_000);
    return {
      host,
      startedAt,
      status: answer.status,
      who: /^WHO=(.*)$/m.exec(answer.body)?.[1] ?? `no WHO (${answer.body.slice(0, 60)})`,
    };
  } catch (error) {
    return { host, startedAt, status: 0, who: (error as Error).message };
  }
}

/** One sequential loop of requests per host until stopped (or its bounds run out). */
function steadyTraffic(port: number): { stop: () => Promise<Answer[]> } {
  let stopped = false;
  const deadline = Date.now() + MAX_TRAFFIC_MS;
  const loops = HOSTS.map(async (host) => {
    const answers: Answer[] = [];
    for (let count = 0; count < MAX_REQUESTS_PER_HOST && !stopped && Date.now() < deadline; count++)
      answers.push(await ask(port, host));
    return answers;
  });
  return {
    stop: async () => {
      stopped = true;
      return (await Promise.all(loops)).flat();
    },
  };
}

function swapSuite(
  form: string,
  start: (dir: string, instance: string) => Promise<{ api: ApiEndpoint; proxyPort: number; stop: () => Promise<void> }>,
): void {
  describe(`a hostname swap between two projects in one apply (${form})`, () => {
    const instance = testInstance(`swap-${form.replace(/\W+/g, '')}`);
    let dir: string;
    let running: { api: ApiEndpoint; proxyPort: number; stop: () => Promise<void> } | undefined;

    beforeAll(async () => {
      await buildTestImage();
      dir = await tempDir('swap');
      running = await start(dir, instance);
    });

    afterAll(async () => {
      await running?.stop();
      await removeInstanceContainers(instance);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    async function apply(text: string): Promise<string> {
      const file = path.join(dir, 'projects.yaml');
      await writeFile(file, text);
      const result = await runCli(['apply', '-f', file], { api: running!.api });
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    }

    async function phases(): Promise<string[]> {
      return Promise.all(
        ['alpha', 'beta'].map(async (name) => {
          const result = await runCli(['get', 'project', name, '-o', 'json'], { api: running!.api });
          return (JSON.parse(result.stdout) as ProjectObject).status?.phase ?? 'none';
        }),
      );
    }

    async function answeredBy(owners: readonly string[]): Promise<boolean> {
      const answers = await Promise.all(HOSTS.map((host) => ask(running!.proxyPort, host)));
      return answers.every((answer, index) => answer.status === 200 && answer.who === owners[index]);
    }

    it('converges with each host answering from its new project, and no wrong answer after', async () => {
      const port = running!.proxyPort;
      await apply(manifests('alpha', 'beta'));
      await eventually(() => answeredBy(['alpha', 'beta']), 30_000, 'both projects answering their first hosts');

      const traffic = steadyTraffic(port);
      const appliedAt = Date.now();
      const output = await apply(manifests('beta', 'alpha'));
      expect(output).toContain('project/alpha configured');
      expect(output).toContain('project/beta configured');
      const applyReturnedAt = Date.now();
      // Converged: every host answers its new project, and both projects say Running.
      await eventually(() => answeredBy(['beta', 'alpha']), 15_000, 'each host answering from its new project');
      const routedAt = Date.now();
      await eventually(
        async () => (await phases()).every((phase) => phase === 'Running'),
        15_000,
        'both projects Running',
      );
      const convergedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, AFTER_CONVERGENCE_MS));
      const answers = await traffic.stop();

      const owner = { [HOSTS[0]]: 'beta', [HOSTS[1]]: 'alpha' } as Record<string, string>;
      const after = answers.filter((answer) => answer.startedAt >= convergedAt);
      const wrongAfter = after.filter((answer) => answer.status !== 200 || answer.who !== owner[answer.host]);
      const during = answers.filter((answer) => answer.startedAt >= appliedAt && answer.startedAt < convergedAt);
      const oldOwner = { [HOSTS[0]]: 'alpha', [HOSTS[1]]: 'beta' } as Record<string, string>;
      const oddDuring = during.filter(
        (answer) =>
          answer.status !== 200 || (answer.who !== owner[answer.host] && answer.who !== oldOwner[answer.host]),
      );
      console.log(
        `[${form}] apply returned in ${applyReturnedAt - appliedAt} ms, routes moved ${routedAt - appliedAt} ms and status converged ${convergedAt - appliedAt} ms after it began; ` +
          `${answers.length} requests, ${during.length} during the swap (${oddDuring.length} neither old nor new project), ${after.length} after`,
      );
      expect(after.length).toBeGreaterThan(10);
      expect(wrongAfter).toEqual([]);
      // While it moved, a host answered from its old project or its new one: never an error.
      expect(oddDuring).toEqual([]);
    });
  });
}

swapSuite('luma up', async (dir, instance) => {
  await mkdir(path.join(dir, 'manifests'));
  const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '2s' });
  const luma: LumaProcess = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
  });
  return { api: luma.api, proxyPort: luma.proxyPort, stop: () => luma.stop() };
});

swapSuite('luma controller + luma proxy run', async (dir, instance) => {
  const stateDir = path.join(dir, 'state');
  const manifestsDir = path.join(dir, 'manifests');
  await mkdir(manifestsDir);
  const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '2s' });
  const proxy: ProxyProcess = await startProxy({ stateDir });
  const controller: ControllerProcess = await startController({
    stateDir,
    manifests: manifestsDir,
    proxyPort: proxy.port,
    instance,
    config,
  });
  return {
    api: controller.api,
    proxyPort: proxy.port,
    stop: async () => {
      await controller.stop();
      await proxy.stop();
    },
  };
});
