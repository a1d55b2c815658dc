import { spawn } from 'node:child_process';
import { chmod, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeInstanceContainers, testInstance } from '../support/docker.js';
import { REPO_ROOT, startLuma, tempDir, type LumaProcess } from '../support/luma.js';
import { proxyCli, startController, startProxy, type ControllerProcess, type ProxyProcess } from '../support/proxy.js';
import { snapshotDifferences, snapshotDir } from '../support/state-snapshot.js';

// One process per state directory: a second `luma up`, `luma controller` or `luma proxy
// run` on a directory in use exits at once, naming the directory and the process that
// holds it, and the first goes on untouched. A holder killed with SIGKILL leaves nothing
// that blocks the next start (the kernel drops its lock).

const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
/** A second process that is not refused would run on: it is killed then, and the test fails. */
const REFUSAL_DEADLINE_MS = 15_000;

interface Refusal {
  code: number | null;
  stderr: string;
  elapsedMs: number;
}

function runBounded(args: string[], instance: string): Promise<Refusal> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LUMA_INSTANCE: instance, LUMA_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), REFUSAL_DEADLINE_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, elapsedMs: Date.now() - started });
    }),
  );
}

/** Each kind of process, pointed at `stateDir` with ports of its own. */
function secondProcess(kind: 'up' | 'controller' | 'proxy run', stateDir: string, manifests: string): string[] {
  const common = ['--state-dir', stateDir, '--listen', '127.0.0.1:0'];
  if (kind === 'proxy run') return ['proxy', 'run', ...common];
  return [kind, ...common, '--api-listen', '127.0.0.1:0', '--manifests', manifests];
}

/** A temporary file as a crashed write leaves it: a start on a free directory removes it. */
async function plantTempFile(stateDir: string): Promise<string> {
  const file = path.join(stateDir, '.api-token.0123456789ab.tmp');
  await writeFile(file, 'half-written');
  return file;
}

async function expectServing(luma: LumaProcess): Promise<void> {
  expect((await fetch(new URL('/healthz', luma.server))).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${luma.proxyPort}/luma-proxy-health`)).status).toBe(200);
}

describe('one process per state directory', () => {
  const instance = testInstance('statelock');
  let dir: string;
  let manifests: string;

  beforeAll(async () => {
    dir = await tempDir('statelock');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  describe('beside luma up', () => {
    const stateDir = (): string => path.join(dir, 'up-state');
    let luma: LumaProcess;
    let planted: string;
    let before: Map<string, string>;

    beforeAll(async () => {
      luma = await startLuma({ stateDir: stateDir(), manifests, instance });
      planted = await plantTempFile(stateDir());
      before = await snapshotDir(stateDir());
    });

    afterAll(async () => {
      await luma?.stop();
    });

    it.each(['up', 'controller', 'proxy run'] as const)(
      'refuses `luma %s` at once, naming the directory and luma up, and leaves the first untouched',
      async (kind) => {
        const second = await runBounded(secondProcess(kind, stateDir(), manifests), instance);
        expect(second.code, second.stderr).toBe(1);
        const lockedDir = kind === 'proxy run' ? path.join(stateDir(), 'proxy') : stateDir();
        expect(second.stderr).toContain(
          `error: the state directory ${lockedDir} is in use by pid ${luma.child.pid} (luma up, `,
        );
        expect(second.stderr.trim().split('\n')).toHaveLength(1);
        expect(second.elapsedMs).toBeLessThan(REFUSAL_DEADLINE_MS);
        await expect(stat(planted)).resolves.toBeTruthy();
        expect(snapshotDifferences(before, await snapshotDir(stateDir()))).toEqual([]);
        await expectServing(luma);
      },
    );

    it('lets a new luma up start on the directory once the first was killed with SIGKILL, and that one cleans up', async () => {
      await luma.kill();
      luma = await startLuma({ stateDir: stateDir(), manifests, instance });
      await expectServing(luma);
      // The new holder is on its own directory: the crashed writer's temporary file goes.
      await expect(stat(planted)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  describe('beside luma proxy run and luma controller sharing a directory', () => {
    const stateDir = (): string => path.join(dir, 'split-state');
    let proxy: ProxyProcess;
    let controller: ControllerProcess;

    beforeAll(async () => {
      proxy = await startProxy({ stateDir: stateDir() });
      controller = await startController({ stateDir: stateDir(), manifests, proxyPort: proxy.port, instance });
    });

    afterAll(async () => {
      await controller?.stop();
      await proxy?.stop();
    });

    it('refuses a second proxy, controller or luma up, each naming the process holding its part', async () => {
      const socket = await stat(proxy.socketPath);
      const cases = [
        {
          kind: 'proxy run',
          holder: `${path.join(stateDir(), 'proxy')} is in use by pid ${proxy.pid} (luma proxy run, proxy, `,
        },
        {
          kind: 'controller',
          holder: `${stateDir()} is in use by pid ${controller.pid} (luma controller, control-plane, `,
        },
        { kind: 'up', holder: `${stateDir()} is in use by pid ${controller.pid} (luma controller, control-plane, ` },
      ] as const;
      for (const { kind, holder } of cases) {
        const second = await runBounded(secondProcess(kind, stateDir(), manifests), instance);
        expect(second.code, `${kind}: ${second.stderr}`).toBe(1);
        expect(second.stderr).toContain(`error: the state directory ${holder}`);
      }
      // The proxy's socket is the one it bound (not unlinked and bound again), and both still answer.
      expect((await stat(proxy.socketPath)).ino).toBe(socket.ino);
      expect((await proxyCli(['list-services', '--socket-path', proxy.socketPath])).code).toBe(0);
      expect((await fetch(new URL('/healthz', controller.server))).status).toBe(200);
    });

    it('lets a new proxy start once the first was killed with SIGKILL', async () => {
      await proxy.kill();
      proxy = await startProxy({ stateDir: stateDir() });
      expect((await proxyCli(['list-services', '--socket-path', proxy.socketPath])).code).toBe(0);
      expect((await fetch(`http://127.0.0.1:${proxy.port}/luma-proxy-health`)).status).toBe(200);
    });
  });

  it('refuses to bind the management socket in a directory others can write, or through a symlink', async () => {
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    const mine = path.join(dir, 'mine');
    await mkdir(mine, { mode: 0o700 });
    await symlink(mine, path.join(dir, 'link'));
    const cases = [
      { socketDir: open, reason: 'others can write in it (mode 777)' },
      { socketDir: path.join(dir, 'link'), reason: 'it is a symlink' },
    ];
    for (const { socketDir, reason } of cases) {
      const args = [
        ...secondProcess('proxy run', path.join(dir, `socket-state-${path.basename(socketDir)}`), manifests),
        '--socket-path',
        path.join(socketDir, 'proxy.sock'),
      ];
      const refused = await runBounded(args, instance);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`error: ${socketDir} is not a safe place for the management socket: ${reason}`);
      await expect(stat(path.join(socketDir, 'proxy.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});
