import { execFile } from 'node:child_process';
import { mkdir, open, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LumaEvent } from '../../src/events/event-log.js';
import type { LeaseObject, ProjectObject } from '../../src/model/types.js';
import type { SyncStatus } from '../../src/sync/sync-status.js';
import type { UsageRecord } from '../../src/usage/record.js';
import {
  buildTestImage,
  docker,
  removeInstanceContainers,
  runningContainersOf,
  TEST_IMAGE,
  testInstance,
} from '../support/docker.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// The watched directory through a real `luma up`: files written, changed, renamed and
// removed become objects, updates and prunes; a broken file is reported and keeps its
// objects; the CLI's objects are never pruned; an emptied directory waits out its grace
// period; and warm containers stopped or removed by hand are put back, with an event.
// Changes are expected within a second (debounce 100 ms); the polls allow more, so a busy
// machine does not fail the test.

const SYNC_BOUND_MS = 5_000;

describe('the watched manifests directory', () => {
  const instance = testInstance('gitops');
  let luma: LumaProcess;
  let dir: string;
  let manifests: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('gitops');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    const config = await writeConfig(dir, {
      resyncInterval: '1s',
      stopTimeout: '1s',
      sync: '{debounce: 100ms, emptyGracePeriod: 3s}',
    });
    await write('keep.yaml', manifest('keep'));
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests, instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  function manifest(name: string, options: { env?: Record<string, string>; minInstances?: number } = {}): string {
    return projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], ...options });
  }

  async function write(file: string, text: string): Promise<void> {
    await writeFile(path.join(manifests, file), text);
  }

  async function project(name: string): Promise<ProjectObject | undefined> {
    const answer = await apiFetch(luma.api, `/api/v1alpha1/projects/${name}`);
    return answer.status === 200 ? ((await answer.json()) as ProjectObject) : undefined;
  }

  async function syncStatus(): Promise<SyncStatus> {
    return (await (await apiFetch(luma.api, '/api/v1alpha1/sync')).json()) as SyncStatus;
  }

  async function events(name: string): Promise<LumaEvent[]> {
    return (
      (await (await apiFetch(luma.api, `/api/v1alpha1/events?kind=Project&name=${name}`)).json()) as {
        items: LumaEvent[];
      }
    ).items;
  }

  it('creates, updates and prunes objects as files are written, changed, renamed and removed', async () => {
    expect((await project('keep'))?.metadata.annotations?.['luma.dev/source-file']).toBe('keep.yaml');

    await write('alpha.yaml', manifest('alpha'));
    const created = await eventually(() => project('alpha'), SYNC_BOUND_MS, 'alpha created from its file');

    await write('alpha.yaml', manifest('alpha', { env: { VERSION: 'two' } }));
    await eventually(
      async () => (await project('alpha'))?.spec.env?.VERSION === 'two',
      SYNC_BOUND_MS,
      'alpha updated from its file',
    );

    await rename(path.join(manifests, 'alpha.yaml'), path.join(manifests, 'renamed.yaml'));
    const renamed = await eventually(
      async () => {
        const current = await project('alpha');
        return current?.metadata.annotations?.['luma.dev/source-file'] === 'renamed.yaml' && current;
      },
      SYNC_BOUND_MS,
      'alpha owned by the renamed file',
    );
    // The same object: a rename is neither a prune nor a new creation.
    expect(renamed.metadata.uid).toBe(created.metadata.uid);

    await unlink(path.join(manifests, 'renamed.yaml'));
    await eventually(
      async () => (await project('alpha')) === undefined,
      SYNC_BOUND_MS,
      'alpha pruned after its file was removed',
    );
    expect(await project('keep')).toBeDefined();
  });

  it('applies good files beside a broken one, reports it with file:line:column and keeps what it declared', async () => {
    await write('held.yaml', manifest('held', { env: { VERSION: 'one' } }));
    const before = await eventually(() => project('held'), SYNC_BOUND_MS, 'held created');

    await write('held.yaml', 'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: [held\n');
    await write('fresh.yaml', manifest('fresh'));
    await eventually(() => project('fresh'), SYNC_BOUND_MS, 'the good file applied beside the broken one');
    const status = await eventually(
      async () => {
        const current = await syncStatus();
        return current.files.some((file) => file.file === 'held.yaml' && file.state === 'Invalid') && current;
      },
      SYNC_BOUND_MS,
      'the broken file reported',
    );
    const broken = status.files.find((file) => file.file === 'held.yaml');
    expect(broken?.objects).toEqual(['Project/held']);
    expect(broken?.issues?.[0]).toMatchObject({ file: path.join(manifests, 'held.yaml'), line: 5, column: 1 });
    expect(status.phase).toBe('Degraded');
    expect(luma.output()).toContain(`${path.join(manifests, 'held.yaml')}:5:1: invalid YAML`);

    // Untouched: the same object, spec and metadata as before (status is the controller's).
    const after = await project('held');
    expect(after?.metadata.uid).toBe(before.metadata.uid);
    expect(after?.metadata.generation).toBe(before.metadata.generation);
    expect(after?.spec).toEqual(before.spec);
    expect(after?.spec.env).toEqual({ VERSION: 'one' });
    await unlink(path.join(manifests, 'fresh.yaml'));
  });

  it('never prunes an object applied with the CLI, nor takes it over', async () => {
    const file = path.join(dir, 'from-cli.yaml');
    await writeFile(file, manifest('from-cli'));
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    const original = await project('from-cli');

    // A file in the directory declaring it is refused, naming the file; the CLI's object stays as it was.
    await write('claims-cli.yaml', manifest('from-cli', { env: { TAKEN: 'over' } }));
    const status = await eventually(
      async () => {
        const current = await syncStatus();
        return current.conflicts.some((conflict) => conflict.object === 'Project/from-cli') && current;
      },
      SYNC_BOUND_MS,
      'the conflict reported',
    );
    expect(status.conflicts.find((conflict) => conflict.object === 'Project/from-cli')?.message).toContain(
      'claims-cli.yaml:4:9',
    );
    await unlink(path.join(manifests, 'claims-cli.yaml'));
    // A forced pass lifts the guards, and still does not prune what the CLI applied.
    const forced = await apiFetch(luma.api, '/api/v1alpha1/sync', {
      method: 'POST',
      body: JSON.stringify({ force: true }),
      headers: { 'content-type': 'application/json' },
    });
    expect(forced.status).toBe(200);
    expect(((await forced.json()) as SyncStatus).conflicts).toEqual([]);
    expect(await project('from-cli')).toEqual(original);
  });

  it('puts back a warm container removed (docker rm -f) or stopped (docker stop) by hand, with an event saying what drifted', async () => {
    await write('warm.yaml', manifest('warm', { minInstances: 1 }));
    const [first] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'warm');
        return running.length === 1 && running;
      },
      20_000,
      'the warm container running',
    );

    await docker.getContainer(first!.Id).remove({ force: true });
    const [second] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'warm');
        return running.length === 1 && running[0]?.Id !== first?.Id && running;
      },
      15_000,
      'a replacement for the removed container',
    );
    const firstName = first!.Names[0]!.slice(1);
    // Docker may show the container exited for a moment before it is gone: either is what drifted.
    const removed = await eventually(
      async () =>
        (await events('warm')).find((event) => event.reason === 'DriftDetected' && event.message.includes(firstName)),
      5_000,
      'a drift event for the removal',
    );
    expect(removed.type).toBe('Warning');
    expect(removed.message).toMatch(/was removed outside Luma|stopped without Luma asking/);

    await docker.getContainer(second!.Id).stop({ t: 0 });
    await eventually(
      async () => (await runningContainersOf(instance, 'warm')).length === 1,
      15_000,
      'the stopped container running again',
    );
    const secondName = second!.Names[0]!.slice(1);
    const stopped = await eventually(
      async () =>
        (await events('warm')).find((event) => event.reason === 'DriftDetected' && event.message.includes(secondName)),
      5_000,
      'a drift event for the stop',
    );
    expect(stopped.message).toContain(`container ${secondName} stopped without Luma asking (Luma had left it running)`);
  });

  it('an emptied directory prunes nothing before its grace period, then what it owned (never what the CLI applied)', async () => {
    const owned = (await syncStatus()).files.flatMap((file) => file.objects);
    expect(owned).toEqual(expect.arrayContaining(['Project/keep', 'Project/held', 'Project/warm']));
    for (const file of ['keep.yaml', 'held.yaml', 'warm.yaml']) await unlink(path.join(manifests, file));
    // A pass may see the files half removed (then the share guard holds the prune back); the last one sees the directory empty.
    const withheld = await eventually(
      async () => {
        const current = (await syncStatus()).pruneWithheld;
        return current?.reason.includes('the manifests directory is empty since') && current;
      },
      SYNC_BOUND_MS,
      'the prune withheld for the grace period',
    );
    expect(withheld.objects).toEqual(expect.arrayContaining(['Project/keep', 'Project/held', 'Project/warm']));
    expect(await project('keep')).toBeDefined();
    expect(await project('warm')).toBeDefined();

    // The grace period is 3 s here.
    await eventually(
      async () => (await project('keep')) === undefined && (await project('warm')) === undefined,
      15_000,
      'the prune after the grace period',
    );
    expect(await project('from-cli')).toBeDefined();
  });
});

// Files caught mid-write and files reached through links, on a `luma up` of their own (the
// directory above must empty at its end). A pass reads a file once it has been still for
// sync.writeFinish (2 s, the default here); nothing below may prune, re-create, end or bill.
describe('the watched manifests directory while files are written slowly or reached through links', () => {
  const instance = testInstance('gitops-writes');
  /**
   * The write-finish window and a second to spare: by then the pass that read the finished
   * file has run. A prune it found due waits for its second look with the phase Pending, so
   * `settled()` waits that out by polling for Synced rather than by a second window.
   */
  const SETTLE_MS = 2_000 + 1_000;
  let luma: LumaProcess;
  let dir: string;
  let manifests: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('gitops-writes');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s', sync: '{debounce: 100ms}' });
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests, instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  function project(name: string, env: Record<string, string> = {}): string {
    return projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], env });
  }

  function lease(name: string, projectName: string): string {
    return [
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      `  project: ${projectName}`,
      '  ttl: 10m',
      '',
    ].join('\n');
  }

  async function get<T>(plural: string, name: string): Promise<T | undefined> {
    const answer = await apiFetch(luma.api, `/api/v1alpha1/${plural}/${name}`);
    return answer.status === 200 ? ((await answer.json()) as T) : undefined;
  }

  async function syncStatus(): Promise<SyncStatus> {
    return (await (await apiFetch(luma.api, '/api/v1alpha1/sync')).json()) as SyncStatus;
  }

  async function eventReasons(kind: string, name: string): Promise<string[]> {
    const answer = await apiFetch(luma.api, `/api/v1alpha1/events?kind=${kind}&name=${name}`);
    return ((await answer.json()) as { items: LumaEvent[] }).items.map((event) => event.reason);
  }

  async function billedLeases(): Promise<string[]> {
    return ((await (await apiFetch(luma.api, '/api/v1alpha1/usage')).json()) as { leases: UsageRecord[] }).leases.map(
      (record) => record.lease,
    );
  }

  /** Waits out the write-finish window, then for a pass that found everything applied and no prune waiting. */
  async function settled(): Promise<SyncStatus> {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return eventually(
      async () => {
        const status = await syncStatus();
        return status.phase === 'Synced' && status;
      },
      SYNC_BOUND_MS,
      'the directory synced',
    );
  }

  /** A project and its Active lease from one file; their uids. */
  async function projectWithLease(file: string, name: string): Promise<{ project: string; lease: string }> {
    await writeFile(path.join(manifests, file), `${project(name)}---\n${lease(`${name}-lease`, name)}`);
    const active = await eventually(
      async () => {
        const current = await get<LeaseObject>('leases', `${name}-lease`);
        return current?.status?.phase === 'Active' && current;
      },
      30_000,
      `lease ${name}-lease Active`,
    );
    return {
      project: (await get<ProjectObject>('projects', name))?.metadata.uid ?? '',
      lease: active.metadata.uid ?? '',
    };
  }

  async function expectUntouched(name: string, uids: { project: string; lease: string }): Promise<void> {
    expect((await get<ProjectObject>('projects', name))?.metadata.uid).toBe(uids.project);
    const current = await get<LeaseObject>('leases', `${name}-lease`);
    expect(current?.metadata.uid).toBe(uids.lease);
    expect(current?.status?.phase).toBe('Active');
    expect(await eventReasons('Lease', `${name}-lease`)).not.toContain('Pruned');
    expect(await eventReasons('Project', name)).not.toContain('Pruned');
    expect(await billedLeases()).not.toContain(`${name}-lease`);
  }

  it('a file rewritten in two halves a second apart (`cat A > f; sleep 1; cat B >> f`) prunes, re-creates, ends and bills nothing', async () => {
    const uids = await projectWithLease('halves.yaml', 'halves');
    await writeFile(path.join(dir, 'half-a.yaml'), project('halves'));
    await writeFile(path.join(dir, 'half-b.yaml'), `---\n${lease('halves-lease', 'halves')}`);
    await new Promise<void>((resolve, reject) =>
      execFile(
        'sh',
        ['-c', 'cat half-a.yaml > manifests/halves.yaml; sleep 1; cat half-b.yaml >> manifests/halves.yaml'],
        { cwd: dir, timeout: 10_000 },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    const status = await settled();
    expect(status.files.find((file) => file.file === 'halves.yaml')).toMatchObject({
      state: 'Applied',
      objects: ['Project/halves', 'Lease/halves-lease'],
    });
    await expectUntouched('halves', uids);
  });

  it('a file copied in slowly (a chunk every 200 ms) is read once, when it is whole', async () => {
    const uids = await projectWithLease('slow.yaml', 'slow');
    // Each document in 48-byte chunks, so that once the file holds exactly the whole project, as a copy may.
    const documents = [`${project('slow', { VERSION: 'two' })}---\n`, lease('slow-lease', 'slow')].map((text) =>
      Buffer.from(text),
    );
    const CHUNK = 48;
    const file = await open(path.join(manifests, 'slow.yaml'), 'w');
    try {
      for (const text of documents) {
        for (let offset = 0; offset < text.length; offset += CHUNK) {
          await file.write(text.subarray(offset, offset + CHUNK));
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    } finally {
      await file.close();
    }
    await settled();
    expect((await get<ProjectObject>('projects', 'slow'))?.spec.env).toEqual({ VERSION: 'two' });
    await expectUntouched('slow', uids);
  });

  it('applies and updates a directory of links (to files, to a directory, a file swapped for a link), pruning nothing', async () => {
    const sources = path.join(dir, 'sources');
    await mkdir(path.join(sources, 'more'), { recursive: true });
    await writeFile(path.join(sources, 'one.yaml'), project('linked-one'));
    await writeFile(path.join(sources, 'more', 'two.yaml'), project('linked-two'));
    await symlink(path.join(sources, 'one.yaml'), path.join(manifests, 'one.yaml'));
    await symlink(path.join(sources, 'more'), path.join(manifests, 'more'));
    await writeFile(path.join(manifests, 'plain.yaml'), project('linked-plain'));
    const one = await eventually(
      () => get<ProjectObject>('projects', 'linked-one'),
      SYNC_BOUND_MS * 2,
      'linked-one from a link to a file',
    );
    const two = await eventually(
      () => get<ProjectObject>('projects', 'linked-two'),
      SYNC_BOUND_MS * 2,
      'linked-two from a linked directory',
    );
    const plain = await eventually(
      () => get<ProjectObject>('projects', 'linked-plain'),
      SYNC_BOUND_MS * 2,
      'linked-plain',
    );
    expect(two.metadata.annotations?.['luma.dev/source-file']).toBe('more/two.yaml');

    // Changed where the link points; a link swapped by rename; the plain file replaced by a link to the same content.
    await writeFile(path.join(sources, 'more', 'two.yaml'), project('linked-two', { VERSION: 'two' }));
    await writeFile(path.join(sources, 'one-v2.yaml'), project('linked-one', { VERSION: 'two' }));
    await symlink(path.join(sources, 'one-v2.yaml'), path.join(manifests, '.one.yaml.tmp'));
    await rename(path.join(manifests, '.one.yaml.tmp'), path.join(manifests, 'one.yaml'));
    await writeFile(path.join(sources, 'plain.yaml'), project('linked-plain'));
    await symlink(path.join(sources, 'plain.yaml'), path.join(manifests, '.plain.yaml.tmp'));
    await rename(path.join(manifests, '.plain.yaml.tmp'), path.join(manifests, 'plain.yaml'));
    await eventually(
      async () => (await get<ProjectObject>('projects', 'linked-two'))?.spec.env?.VERSION === 'two',
      SYNC_BOUND_MS * 2,
      'linked-two updated through its directory link',
    );
    await eventually(
      async () => (await get<ProjectObject>('projects', 'linked-one'))?.spec.env?.VERSION === 'two',
      SYNC_BOUND_MS * 2,
      'linked-one updated by the link swap',
    );
    const status = await settled();
    expect(status.pruned).toEqual([]);
    for (const before of [one, two, plain]) {
      expect((await get<ProjectObject>('projects', before.metadata.name))?.metadata.uid).toBe(before.metadata.uid);
      expect(await eventReasons('Project', before.metadata.name)).not.toContain('Pruned');
    }
  });

  it('applies a ConfigMap-shaped directory once per file and follows its ..data swap to a new folder', async () => {
    const mount = path.join(manifests, 'config');
    async function version(folder: string, value: string): Promise<void> {
      await mkdir(path.join(mount, folder), { recursive: true });
      await writeFile(path.join(mount, folder, 'cm-a.yaml'), project('cm-a', { VERSION: value }));
      await writeFile(path.join(mount, folder, 'cm-b.yaml'), project('cm-b', { VERSION: value }));
    }
    await version('..2026_12_07_10_00_00.1', 'one');
    await symlink('..2026_12_07_10_00_00.1', path.join(mount, '..data'));
    for (const file of ['cm-a.yaml', 'cm-b.yaml']) await symlink(`..data/${file}`, path.join(mount, file));
    const a = await eventually(
      () => get<ProjectObject>('projects', 'cm-a'),
      SYNC_BOUND_MS * 2,
      'cm-a from the ConfigMap',
    );
    const b = await eventually(
      () => get<ProjectObject>('projects', 'cm-b'),
      SYNC_BOUND_MS * 2,
      'cm-b from the ConfigMap',
    );
    expect(a.metadata.annotations?.['luma.dev/source-file']).toBe('config/cm-a.yaml');

    // The kubelet's update: a new folder, a new link renamed over ..data, the old folder removed.
    await version('..2026_12_07_11_00_00.2', 'two');
    await symlink('..2026_12_07_11_00_00.2', path.join(mount, '..data_tmp'));
    await rename(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
    await rm(path.join(mount, '..2026_12_07_10_00_00.1'), { recursive: true });
    await eventually(
      async () =>
        (await get<ProjectObject>('projects', 'cm-a'))?.spec.env?.VERSION === 'two' &&
        (await get<ProjectObject>('projects', 'cm-b'))?.spec.env?.VERSION === 'two',
      SYNC_BOUND_MS * 2,
      'both updated by the ..data swap',
    );
    const status = await settled();
    expect(status.conflicts).toEqual([]);
    expect(status.files.filter((file) => file.file.startsWith('config/')).map((file) => file.file)).toEqual([
      'config/cm-a.yaml',
      'config/cm-b.yaml',
    ]);
    for (const before of [a, b]) {
      expect((await get<ProjectObject>('projects', before.metadata.name))?.metadata.uid).toBe(before.metadata.uid);
      expect(await eventReasons('Project', before.metadata.name)).not.toContain('Pruned');
    }
  });
});
