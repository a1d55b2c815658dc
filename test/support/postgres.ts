import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

// A private PostgreSQL instance for one test file: Debian's `postgresql` binaries run as the
// `postgres` user the package creates (initdb refuses to run as root), with a data
// directory of its own in a temporary directory and a free loopback port. Nothing of the
// machine's own clusters is touched. Each test asks for a fresh database
// (`createDatabase`), so tests never see each other's rows. `remove()` is for afterAll;
// an instance whose test process died is removed by the next run (its owner file names
// the dead pid).

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
const DB_USER = 'postgres';
const ROOT_PREFIX = 'luma-postgres-';
const OWNER_FILE = 'owner.json';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface PrivatePostgres {
  port: number;
  /** A connection URL for `database` on this instance. */
  url(database: string): string;
  /** Creates an empty database with a fresh name and returns its URL. */
  createDatabase(): Promise<string>;
  /** A fast shutdown (clients are disconnected); the data stays for start(). */
  stop(): Promise<void>;
  /** Starts the instance again on the same data and port, and waits until it answers. */
  start(): Promise<void>;
  /** Stops the instance (SIGKILL if it will not stop) and deletes its directory. */
  remove(): Promise<void>;
}

interface Owner {
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', DB_USER]).catch(() => {
    throw new Error(`no "${DB_USER}" user: install Debian's postgresql package (scripts/setup.sh does)`);
  });
  const { stdout: group } = await run('id', ['-g', DB_USER]);
  return { uid: Number(stdout.trim()), gid: Number(group.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Kills the postmaster of an abandoned instance and deletes its directory. */
async function removeAbandoned(): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(ROOT_PREFIX)) continue;
    const root = path.join(tmpdir(), entry);
    let owner: Owner;
    try {
      owner = JSON.parse(await readFile(path.join(root, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // Being set up right now, or not ours.
    }
    if (alive(owner.pid)) continue;
    const pid = await postmasterPid(path.join(root, 'data'));
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
}

async function until(what: string, ready: () => Promise<boolean>, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const death = died();
    if (death !== undefined) throw new Error(`${what} exited (${death}) before it was ready`);
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function answers(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: DB_USER, database: 'postgres' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startPostgres(): Promise<PrivatePostgres> {
  await removeAbandoned();
  const user = await postgresUser();
  const root = await mkdtemp(path.join(tmpdir(), ROOT_PREFIX));
  await writeFile(path.join(root, OWNER_FILE), JSON.stringify({ pid: process.pid } satisfies Owner));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'socket');
  await mkdir(dataDir, { mode: 0o700 });
  await mkdir(socketDir, { mode: 0o700 });
  for (const dir of [root, dataDir, socketDir]) await chown(dir, user.uid, user.gid);
  const asPostgres = (command: string, args: string[]): string[] => ['-u', DB_USER, '--', command, ...args];
  await run(
    'runuser',
    asPostgres(`${BIN}/initdb`, ['-D', dataDir, '-A', 'trust', '-U', DB_USER, '-E', 'UTF8', '--no-sync']),
  );
  const port = await freePort();
  let server: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    // Durability is not what these tests check; a test that kills the database uses stop().
    const settings = ['listen_addresses=127.0.0.1', `unix_socket_directories=${socketDir}`, 'fsync=off'];
    const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap((setting) => ['-c', setting])];
    const child = spawn('runuser', asPostgres(`${BIN}/postgres`, args), { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const died = (): string | undefined =>
      child.exitCode !== null || child.signalCode !== null
        ? `${child.exitCode ?? child.signalCode}: ${output}`
        : undefined;
    await until(`postgres on port ${port}`, () => answers(port), died);
  };

  const stop = async (): Promise<void> => {
    const child = server;
    if (!child) return;
    server = undefined;
    // SIGINT is PostgreSQL's fast shutdown: clients are cut off at once, as a lost database would.
    const pid = await postmasterPid(dataDir);
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGINT');
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_TIMEOUT_MS).unref());
    if ((await Promise.race([waitExit(child), late])) === 'late') {
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
      await waitExit(child);
    }
  };

  await start();
  const url = (database: string): string => `postgres://${DB_USER}@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    createDatabase: async () => {
      const name = `luma_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop,
    start,
    remove: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface PostgresPerTest<T> {
  /** The file's instance (to stop and start it). */
  instance: () => PrivatePostgres;
  /** This test's database. */
  url: () => string;
  /** Opens one on this test's database, closed after the test. */
  open: () => Promise<T>;
  /** Closes these after the test too (opened some other way). */
  adopt: (...items: T[]) => void;
}

/**
 * For a test file against PostgreSQL: a private instance for the file, a fresh database
 * for each test, and whatever `open` opened on it closed after each test.
 */
export function postgresPerTest<T extends { close(): Promise<void> }>(
  open: (url: string) => Promise<T>,
): PostgresPerTest<T> {
  let postgres: PrivatePostgres | undefined;
  let url = '';
  const opened: T[] = [];
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(async () => {
    await postgres?.remove();
  });
  beforeEach(async () => {
    url = await (postgres as PrivatePostgres).createDatabase();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((item) => item.close()));
  });
  return {
    instance: () => postgres as PrivatePostgres,
    url: () => url,
    open: async () => {
      const item = await open(url);
      opened.push(item);
      return item;
    },
    adopt: (...items) => opened.push(...items),
  };
}
