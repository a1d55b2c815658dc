import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildTestImage, removeInstanceContainers, testInstance } from './docker.js';
import { removeInstanceImages } from './images.js';
import { startLuma, tempDir, writeConfig, type LumaProcess } from './luma.js';
import { startPostgres, type PrivatePostgres } from './postgres.js';

// One `luma up` for a describe block, the way most e2e files start one: the busybox test
// image, a temporary directory with a manifests folder and a config file, an instance
// label of the run's own; stopped and cleaned up after the block, even when a test
// failed. Call it inside `describe`. Files that need more processes on the same
// manifests, config and store (a second Luma, controllers failing over) start them with
// `start()`; every process started is ended after the block.

export interface LumaUpFixture {
  /** The containers' label value: what the file's Docker checks filter on. */
  readonly instance: string;
  /** The `luma up` started last; read it inside tests, after beforeAll has run. */
  readonly luma: LumaProcess;
  /** The block's temporary directory (manifests/ and state/ are below it). */
  readonly dir: string;
  /** With `postgres: true`: the private PostgreSQL the processes store their objects in. */
  readonly postgres: PrivatePostgres;
  /** With `postgres: true`: its database's URL, given to each process as `--store`. */
  readonly storeUrl: string;
  /** Starts another `luma up` on the state directory `<dir>/<state>`, with the block's settings. */
  start(state: string): Promise<LumaProcess>;
}

export interface LumaUpFixtureOptions {
  /** Also remove the images Luma built for the run's instance (for files that build Images). */
  removeImages?: boolean;
  /** More environment for each process (LUMA_LOG_LEVEL…). */
  env?: Record<string, string>;
  /** Files written into manifests/ before the first start: file name to contents. */
  manifests?: Record<string, string>;
  /** Objects in a private PostgreSQL (`--store`) rather than the state directory. */
  postgres?: boolean;
  /** Start no `luma up` in beforeAll: the block calls `start()` itself. */
  startLater?: boolean;
}

export function lumaUpFor(
  name: string,
  settings: Record<string, string>,
  options: LumaUpFixtureOptions = {},
): LumaUpFixture {
  const instance = testInstance(name);
  const started: LumaProcess[] = [];
  let dir: string | undefined;
  let config: string | undefined;
  let postgres: PrivatePostgres | undefined;
  let storeUrl: string | undefined;

  function required<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} of "${name}" is not there: read it inside a test`);
    return value;
  }

  async function start(state: string): Promise<LumaProcess> {
    const luma = await startLuma({
      stateDir: path.join(required(dir, 'the directory'), state),
      manifests: path.join(required(dir, 'the directory'), 'manifests'),
      instance,
      config: required(config, 'the config file'),
      ...(storeUrl === undefined ? {} : { args: ['--store', storeUrl] }),
      ...(options.env ? { env: options.env } : {}),
    });
    started.push(luma);
    return luma;
  }

  beforeAll(async () => {
    await buildTestImage();
    if (options.postgres) {
      postgres = await startPostgres();
      storeUrl = await postgres.createDatabase();
    }
    dir = await tempDir(name);
    await mkdir(path.join(dir, 'manifests'));
    for (const [file, text] of Object.entries(options.manifests ?? {}))
      await writeFile(path.join(dir, 'manifests', file), text);
    config = await writeConfig(dir, settings);
    if (!options.startLater) await start('state');
  });

  afterAll(async () => {
    for (const luma of started) {
      // A paused process takes SIGTERM too; SIGCONT first so that it can act on it.
      if (luma.child.exitCode === null && luma.child.signalCode === null) luma.child.kill('SIGCONT');
      await luma.stop();
    }
    await removeInstanceContainers(instance);
    if (options.removeImages) await removeInstanceImages(instance);
    await postgres?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  return {
    instance,
    get luma(): LumaProcess {
      return required(started.at(-1), 'luma up');
    },
    get dir(): string {
      return required(dir, 'the directory');
    },
    get postgres(): PrivatePostgres {
      return required(postgres, 'the PostgreSQL (postgres: true)');
    },
    get storeUrl(): string {
      return required(storeUrl, 'the store URL (postgres: true)');
    },
    start,
  };
}
