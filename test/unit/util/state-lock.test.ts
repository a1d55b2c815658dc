import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  holdingLock,
  lockFileOf,
  lockStateDir,
  lockStateDirs,
  StateDirInUseError,
} from '../../../src/util/state-lock.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-lock-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lockStateDir', () => {
  it('refuses a second holder of the same role at once, naming the directory and the holder', async () => {
    // Open-file-description locks conflict between two opens even within one process.
    const first = await lockStateDir(dir, 'control-plane', 'luma up');
    const refused = await lockStateDir(dir, 'control-plane', 'luma controller').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StateDirInUseError);
    expect((refused as StateDirInUseError).holder).toMatchObject({
      pid: process.pid,
      command: 'luma up',
      role: 'control-plane',
    });
    expect((refused as Error).message).toMatch(
      new RegExp(
        `^the state directory ${dir} is in use by pid ${process.pid} \\(luma up, control-plane, since \\d{4}-`,
      ),
    );
    await first.release();
  });

  it('lets the two roles share a directory (luma controller beside luma proxy run)', async () => {
    const controlPlane = await lockStateDir(dir, 'control-plane', 'luma controller');
    const proxy = await lockStateDir(dir, 'proxy', 'luma proxy run');
    await Promise.all([controlPlane.release(), proxy.release()]);
  });

  it('is free again once released, and the lock file stays (never replaced, so never two inodes)', async () => {
    const first = await lockStateDir(dir, 'proxy', 'luma proxy run');
    const inode = (await stat(lockFileOf(dir, 'proxy'))).ino;
    await first.release();
    await first.release();
    const second = await lockStateDir(dir, 'proxy', 'luma up');
    expect((await stat(lockFileOf(dir, 'proxy'))).ino).toBe(inode);
    expect(JSON.parse(await readFile(lockFileOf(dir, 'proxy'), 'utf8'))).toMatchObject({
      command: 'luma up',
      pid: process.pid,
    });
    expect((await stat(lockFileOf(dir, 'proxy'))).mode & 0o777).toBe(0o600);
    await second.release();
  });

  it('creates a missing state directory, private to its owner', async () => {
    const nested = path.join(dir, 'new', 'state');
    const lock = await lockStateDir(nested, 'control-plane', 'luma up');
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    await lock.release();
  });

  it('is released by the kernel when its holder is killed with SIGKILL', async () => {
    // A child holds the lock through the same package, then dies without releasing it.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { open } from 'node:fs/promises';
      import { tryLock } from 'fs-native-extensions';
      const handle = await open(${JSON.stringify(lockFileOf(dir, 'control-plane'))}, 'a+');
      process.stdout.write(String(tryLock(handle.fd)));
      setInterval(() => handle, 1000);
    `,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const said = await new Promise<string>((resolve) =>
      holder.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(said).toBe('true');
    await expect(lockStateDir(dir, 'control-plane', 'luma up')).rejects.toThrow(StateDirInUseError);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const lock = await lockStateDir(dir, 'control-plane', 'luma up');
    await lock.release();
  });
});

describe('lockStateDirs', () => {
  it('takes all or none: when one is held, the others it took are released', async () => {
    const proxy = await lockStateDir(path.join(dir, 'proxy'), 'proxy', 'luma proxy run');
    const wanted = [
      { dir, role: 'control-plane' as const },
      { dir: path.join(dir, 'proxy'), role: 'proxy' as const },
    ];
    await expect(lockStateDirs(wanted, 'luma up')).rejects.toThrow(
      `the state directory ${path.join(dir, 'proxy')} is in use by pid ${process.pid} (luma proxy run, proxy`,
    );
    // The control plane's lock was given back: a controller can take it.
    const controller = await lockStateDir(dir, 'control-plane', 'luma controller');
    await Promise.all([controller.release(), proxy.release()]);
  });
});

describe('holdingLock', () => {
  it('releases the lock when what it started stops, and at once when it fails to start', async () => {
    const running = await holdingLock(await lockStateDir(dir, 'proxy', 'luma proxy run'), async () => ({
      port: 1,
      stop: async () => undefined,
    }));
    expect(running.port).toBe(1);
    await expect(lockStateDir(dir, 'proxy', 'luma up')).rejects.toThrow(StateDirInUseError);
    await running.stop();
    const failing = holdingLock(await lockStateDir(dir, 'proxy', 'luma up'), () =>
      Promise.reject(new Error('port taken')),
    );
    await expect(failing).rejects.toThrow('port taken');
    await (await lockStateDir(dir, 'proxy', 'luma proxy run')).release();
  });
});
