import { appendFile, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, type SyncSettings } from '../../../src/config/settings.js';
import { MemoryEventLog } from '../../../src/events/event-log.js';
import { API_VERSION } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { DirectorySync } from '../../../src/sync/directory-sync.js';
import { INVENTORY_FILE, InventoryFile } from '../../../src/sync/inventory.js';
import { InProcessScanner, type DirectoryScanner } from '../../../src/sync/scanner.js';
import { ScanWorkerError } from '../../../src/sync/scan-process.js';
import { contentHash, type KnownFile } from '../../../src/sync/scan.js';
import { SOURCE_FILE_ANNOTATION } from '../../../src/sync/ownership.js';
import { createLogger, silentLogger, type Logger } from '../../../src/util/logger.js';
import { PassThrough } from 'node:stream';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';

// One pass of the watched directory against a real (temporary) directory and file store:
// what is applied, pruned, kept and reported. No Docker; the planner's rules are tested
// table by table in planner.test.ts, this shows them wired to files, store and events.

let root: string;
let dir: string;
let stateDir: string;
let store: FileStore;
let events: MemoryEventLog;
let now: number;

// Files are read at once here; the write-finish window has tests of its own below.
const SYNC: SyncSettings = { ...DEFAULT_SETTINGS.sync, emptyGracePeriodMs: 60_000, writeFinishMs: 0 };

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'luma-sync-'));
  dir = path.join(root, 'manifests');
  stateDir = path.join(root, 'state');
  await mkdir(dir);
  store = await FileStore.open(stateDir);
  events = new MemoryEventLog();
  now = Date.parse('2026-01-01T00:00:00Z');
});

afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function newSync(
  settings: Partial<SyncSettings> = {},
  clock?: FakeClock,
  scanner: DirectoryScanner = new InProcessScanner(clock),
  logger: Logger = silentLogger(),
): DirectorySync {
  return new DirectorySync({
    dir,
    store,
    inventory: new InventoryFile(stateDir),
    settings: { ...SYNC, ...settings },
    admission: DEFAULT_SETTINGS,
    resolveContext: () => Promise.reject(new Error('no contexts in these tests')),
    events: events.recorder('sync'),
    logger,
    // In the process: the write-finish window follows the fake clock (scan-process.test.ts covers the worker).
    scanner,
    ...(clock ? { clock } : { now: () => now }),
  });
}

function projectYaml(name: string, env: Record<string, string> = {}): string {
  const lines = [
    `apiVersion: ${API_VERSION}`,
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  image: busybox',
    '  hostnames:',
    `    - ${name}.localhost`,
  ];
  if (Object.keys(env).length > 0)
    lines.push('  env:', ...Object.entries(env).map(([key, value]) => `    ${key}: "${value}"`));
  return `${lines.join('\n')}\n`;
}

async function write(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
  await writeFile(path.join(dir, file), text);
}

function projectNames(): string[] {
  return store.list('Project').map((project) => project.metadata.name);
}

async function applyWithCli(name: string): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: 'busybox', hostnames: [`${name}.localhost`] },
  });
}

describe('DirectorySync', () => {
  it('creates, updates and prunes objects as files are written, changed, renamed and removed, recording the source file', async () => {
    const sync = newSync();
    await write('a.yaml', projectYaml('alpha'));
    await write('team/b.yml', projectYaml('beta'));
    let status = await sync.pass();
    expect(status.phase).toBe('Synced');
    expect(projectNames()).toEqual(['alpha', 'beta']);
    expect(store.get('Project', 'beta')?.metadata.annotations?.[SOURCE_FILE_ANNOTATION]).toBe('team/b.yml');
    const alphaUid = store.get('Project', 'alpha')?.metadata.uid;

    await write('a.yaml', projectYaml('alpha', { VERSION: 'two' }));
    await sync.pass();
    expect(store.get('Project', 'alpha')?.spec.env).toEqual({ VERSION: 'two' });

    // A rename is the same object, now from another file: not pruned, not re-created.
    await unlink(path.join(dir, 'a.yaml'));
    await write('renamed.yaml', projectYaml('alpha', { VERSION: 'two' }));
    status = await sync.pass();
    expect(status.pruned).toEqual([]);
    expect(store.get('Project', 'alpha')?.metadata.uid).toBe(alphaUid);
    expect(store.get('Project', 'alpha')?.metadata.annotations?.[SOURCE_FILE_ANNOTATION]).toBe('renamed.yaml');

    await unlink(path.join(dir, 'team/b.yml'));
    status = await sync.pass();
    expect(status.pruned).toEqual(['Project/beta']);
    expect(projectNames()).toEqual(['alpha']);
    expect(events.list({ name: 'beta' }).map((event) => event.reason)).toEqual(['Applied', 'Pruned']);
  });

  it('logs that a change to what a project runs makes its next revision and rolls out, not a replacement', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const sync = newSync({}, undefined, undefined, createLogger({ format: 'json', stream }));
    await write('a.yaml', projectYaml('alpha', { VERSION: 'one' }));
    await sync.pass();
    // The controller recorded revision 1 and it serves.
    await store.mutateStatus('Project', 'alpha', (current) => ({
      ...current.status,
      revisions: { latestCreated: 'alpha-1', latestReady: 'alpha-1' },
    }));
    await write('a.yaml', projectYaml('alpha', { VERSION: 'two' }));
    await sync.pass();
    await new Promise((resolve) => setImmediate(resolve));
    const said = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(said).toContain(
      'will make revision alpha-2 and roll out to it: alpha-1 keeps serving until it is ready, then it takes all traffic (not a replacement)',
    );
    expect(said.filter((msg) => msg.startsWith('will make'))).toHaveLength(1);
  });

  it('prunes an object that disappears from a file that declares several', async () => {
    const sync = newSync();
    await write('both.yaml', `${projectYaml('one')}---\n${projectYaml('two')}`);
    await sync.pass();
    await write('both.yaml', projectYaml('one'));
    expect((await sync.pass()).pruned).toEqual(['Project/two']);
    expect(projectNames()).toEqual(['one']);
  });

  it('applies the good files beside a broken one, reports it with file:line:column, and keeps what it declared before', async () => {
    const sync = newSync();
    await write('good.yaml', projectYaml('good'));
    await write('bad.yaml', projectYaml('kept', { VERSION: 'one' }));
    await sync.pass();

    await write('bad.yaml', 'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: [kept\n');
    await write('good.yaml', projectYaml('good', { VERSION: 'two' }));
    await write('new.yaml', projectYaml('new'));
    const status = await sync.pass();

    expect(projectNames()).toEqual(['good', 'kept', 'new']);
    expect(store.get('Project', 'good')?.spec.env).toEqual({ VERSION: 'two' });
    expect(store.get('Project', 'kept')?.spec.env).toEqual({ VERSION: 'one' });
    expect(status.phase).toBe('Degraded');
    const bad = status.files.find((file) => file.file === 'bad.yaml');
    expect(bad).toMatchObject({ state: 'Invalid', objects: ['Project/kept'] });
    expect(bad?.issues?.[0]).toMatchObject({ file: path.join(dir, 'bad.yaml'), line: 5, column: 1 });
    const [event] = events.list({ kind: 'Sync', name: 'bad.yaml' });
    expect(event).toMatchObject({ type: 'Warning', reason: 'InvalidManifest' });
    expect(event?.message).toContain(`${path.join(dir, 'bad.yaml')}:5:1: invalid YAML`);

    // Still kept once the broken file is the only thing left besides good ones, and after a restart.
    const restarted = newSync();
    await restarted.pass();
    expect(projectNames()).toContain('kept');
  });

  it('a file that fails validation keeps its objects too, and names the field', async () => {
    const sync = newSync();
    await write('app.yaml', projectYaml('app'));
    await sync.pass();
    await write('app.yaml', projectYaml('app').replace('image: busybox', 'image: busybox\n  port: eighty'));
    const status = await sync.pass();
    expect(projectNames()).toEqual(['app']);
    expect(status.files[0]?.issues?.[0]).toMatchObject({ line: 7, column: 9, path: 'spec.port' });
  });

  it('never prunes objects applied with the CLI, and does not take them over', async () => {
    const sync = newSync();
    await applyWithCli('from-cli');
    await write('a.yaml', projectYaml('a'));
    await sync.pass();
    await unlink(path.join(dir, 'a.yaml'));
    await write('b.yaml', projectYaml('b'));
    await sync.pass();
    expect(projectNames()).toEqual(['b', 'from-cli']);

    // A file that declares it is refused for that object; the CLI's object is unchanged.
    const before = store.get('Project', 'from-cli');
    await write('c.yaml', projectYaml('from-cli', { TAKEN: 'over' }));
    const status = await sync.pass();
    expect(store.get('Project', 'from-cli')).toEqual(before);
    expect(status.conflicts).toEqual([
      {
        object: 'Project/from-cli',
        files: ['c.yaml'],
        message: expect.stringContaining('was not created from the manifests directory') as string,
      },
    ]);
    await unlink(path.join(dir, 'c.yaml'));
    await sync.pass({ force: true });
    expect(projectNames()).toEqual(['b', 'from-cli']);
  });

  it('an object declared in two files: an error naming both, and neither wins', async () => {
    const sync = newSync();
    await write('one.yaml', projectYaml('dup', { FROM: 'one' }));
    await sync.pass();
    await write('two.yaml', projectYaml('dup', { FROM: 'two' }));
    const status = await sync.pass();
    expect(store.get('Project', 'dup')?.spec.env).toEqual({ FROM: 'one' });
    expect(status.conflicts[0]?.files).toEqual(['one.yaml', 'two.yaml']);
    expect(status.conflicts[0]?.message).toContain(
      `${path.join(dir, 'one.yaml')}:4:9 and ${path.join(dir, 'two.yaml')}:4:9`,
    );
    expect(events.list({ name: 'dup' }).at(-1)).toMatchObject({ type: 'Warning', reason: 'SyncConflict' });

    // Resolved by removing one: the other applies, nothing is pruned.
    await unlink(path.join(dir, 'one.yaml'));
    const resolved = await sync.pass();
    expect(resolved.pruned).toEqual([]);
    expect(store.get('Project', 'dup')?.spec.env).toEqual({ FROM: 'two' });
  });

  it('an emptied directory prunes nothing before the grace period, then everything', async () => {
    const sync = newSync();
    await write('a.yaml', projectYaml('a'));
    await write('b.yaml', projectYaml('b'));
    await write('c.yaml', projectYaml('c'));
    await sync.pass();
    for (const file of ['a.yaml', 'b.yaml', 'c.yaml']) await unlink(path.join(dir, file));

    let status = await sync.pass();
    expect(projectNames()).toEqual(['a', 'b', 'c']);
    expect(status.pruneWithheld).toMatchObject({
      objects: ['Project/a', 'Project/b', 'Project/c'],
      retryAt: new Date(now + 60_000).toISOString(),
    });
    expect(sync.recheckAt()).toBe(now + 60_000);

    now += 59_999;
    await sync.pass();
    expect(projectNames()).toEqual(['a', 'b', 'c']);

    now += 1;
    status = await sync.pass();
    expect(status.pruned).toEqual(['Project/a', 'Project/b', 'Project/c']);
    expect(projectNames()).toEqual([]);
  });

  it('a directory removed altogether is treated like an empty one', async () => {
    const sync = newSync();
    await write('a.yaml', projectYaml('a'));
    await sync.pass();
    await rm(dir, { recursive: true });
    const status = await sync.pass();
    expect(status.exists).toBe(false);
    expect(status.pruneWithheld?.reason).toContain('is missing since');
    expect(projectNames()).toEqual(['a']);
  });

  it('holds back a pass that would prune more than maxPruneShare, until forced', async () => {
    const sync = newSync({ maxPruneShare: 0.5 });
    for (const name of ['a', 'b', 'c', 'd']) await write(`${name}.yaml`, projectYaml(name));
    await sync.pass();
    for (const name of ['b', 'c', 'd']) await unlink(path.join(dir, `${name}.yaml`));
    const held = await sync.pass();
    expect(held.pruneWithheld?.reason).toContain('would prune 3 of the 4 objects');
    expect(projectNames()).toEqual(['a', 'b', 'c', 'd']);
    const forced = await sync.pass({ force: true });
    expect(forced.pruned).toEqual(['Project/b', 'Project/c', 'Project/d']);
    expect(projectNames()).toEqual(['a']);
  });

  it('keeps its inventory in the state directory: a restarted sync prunes what an earlier one created', async () => {
    await write('a.yaml', projectYaml('a'));
    await write('b.yaml', projectYaml('b'));
    await newSync().pass();
    const inventory = JSON.parse(await readFile(path.join(stateDir, 'sync', 'inventory.json'), 'utf8')) as {
      files: Record<string, unknown>;
    };
    expect(Object.keys(inventory.files)).toEqual(['a.yaml', 'b.yaml']);

    await unlink(path.join(dir, 'b.yaml'));
    const status = await newSync().pass();
    expect(status.pruned).toEqual(['Project/b']);
  });

  it('ignores hidden paths (.git, editor swap files) and files that are not YAML', async () => {
    const sync = newSync();
    await write('.git/objects.yaml', projectYaml('git'));
    await write('.swp.yaml', projectYaml('swap'));
    await write('notes.txt', 'not a manifest');
    await write('app.yaml', projectYaml('app'));
    const status = await sync.pass();
    expect(status.files.map((file) => file.file)).toEqual(['app.yaml']);
    expect(projectNames()).toEqual(['app']);
  });

  it('a file refused by a rule that spans files is retried in the same pass once another frees what it needs', async () => {
    const sync = newSync();
    await write('a.yaml', projectYaml('a'));
    await sync.pass();
    // b (read first) takes a's hostname, which a gives up in this same change.
    await write('a.yaml', projectYaml('a').replace('a.localhost', 'other.localhost'));
    await write('0-b.yaml', projectYaml('b').replace('b.localhost', 'a.localhost'));
    const status = await sync.pass();
    expect(status.phase).toBe('Synced');
    expect(store.get('Project', 'b')?.spec.hostnames).toEqual(['a.localhost']);
  });
});

describe('DirectorySync cost', () => {
  it('copies each stored project a few times per pass, not once per file', async () => {
    const sync = newSync();
    for (let index = 0; index < 20; index += 1) await write(`p${index}.yaml`, projectYaml(`p${index}`));
    await sync.pass();
    for (let index = 0; index < 20; index += 1)
      await write(`p${index}.yaml`, projectYaml(`p${index}`, { EDITED: 'yes' }));
    const list = vi.spyOn(store, 'list');
    const get = vi.spyOn(store, 'get');
    const status = await sync.pass();
    expect(status.phase).toBe('Synced');
    const copies =
      list.mock.calls.filter(([kind]) => kind === 'Project').length * 20 +
      get.mock.calls.filter(([kind]) => kind === 'Project').length;
    // Before: each file's admission listed all 20 twice (800 copies).
    expect(copies).toBeLessThanOrEqual(3 * 20);
  });

  it('a pass with nothing changed (or only comments) applies nothing, and still reports every file', async () => {
    const sync = newSync();
    for (let index = 0; index < 5; index += 1) await write(`p${index}.yaml`, projectYaml(`p${index}`));
    await sync.pass();
    const apply = vi.spyOn(store, 'apply');
    const status = await sync.pass();
    expect(apply).not.toHaveBeenCalled();
    expect(status.phase).toBe('Synced');
    expect(status.files.map((file) => [file.file, file.state, file.objects])).toEqual(
      [0, 1, 2, 3, 4].map((index) => [`p${index}.yaml`, 'Applied', [`Project/p${index}`]]),
    );
    // A comment more changes the bytes, not what the file declares: parsed, not applied.
    await write('p2.yaml', `${projectYaml('p2')}# edited\n`);
    await sync.pass();
    expect(apply).not.toHaveBeenCalled();
    // A value changed is applied again, and only that file.
    await write('p3.yaml', projectYaml('p3', { EDITED: 'yes' }));
    await sync.pass();
    expect(apply).toHaveBeenCalledTimes(1);
    expect(store.get('Project', 'p3')?.spec.env).toEqual({ EDITED: 'yes' });
  });

  it("a pass that finds what the last one applied, comments aside, asks each object's version once, copies nothing and writes nothing", async () => {
    const sync = newSync();
    for (let index = 0; index < 20; index += 1) await write(`p${index}.yaml`, projectYaml(`p${index}`));
    const first = await sync.pass();
    const inventoryFile = path.join(stateDir, INVENTORY_FILE);
    const inventoryBefore = await readFile(inventoryFile, 'utf8');
    for (let index = 0; index < 20; index += 2) await write(`p${index}.yaml`, `# edited\n${projectYaml(`p${index}`)}`);
    const get = vi.spyOn(store, 'get');
    const metadata = vi.spyOn(store, 'metadata');
    const version = vi.spyOn(store, 'resourceVersion');
    const apply = vi.spyOn(store, 'apply');
    const status = await sync.pass();
    // Each file's objects are looked at once, to know that nobody changed them (applied-files.ts):
    // by their version, which nobody changed, so that nothing is copied.
    expect(version.mock.calls.length).toBe(20);
    expect(metadata).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(apply).not.toHaveBeenCalled();
    expect(await readFile(inventoryFile, 'utf8')).toBe(inventoryBefore);
    expect({ ...status, passes: 1, lastPassAt: '' }).toEqual({ ...first, lastPassAt: '' });
    expect(status.passes).toBe(2);
  });

  it('an object whose status was written since is compared by its metadata once, and known by its new version after', async () => {
    const sync = newSync();
    for (let index = 0; index < 3; index += 1) await write(`p${index}.yaml`, projectYaml(`p${index}`));
    await sync.pass();
    await store.updateStatus('Project', 'p1', { phase: 'Running', observedGeneration: 1 });
    const metadata = vi.spyOn(store, 'metadata');
    const apply = vi.spyOn(store, 'apply');
    await sync.pass();
    expect(metadata.mock.calls.map(([kind, name]) => `${kind}/${name}`)).toEqual(['Project/p1']);
    await sync.pass();
    expect(metadata).toHaveBeenCalledTimes(1);
    expect(apply).not.toHaveBeenCalled();
  });

  it('a file whose comment changed is known by its new bytes afterwards: the next pass does not parse it again', async () => {
    const known: Array<ReadonlyMap<string, KnownFile>> = [];
    const inProcess = new InProcessScanner();
    const scanner: DirectoryScanner = {
      scan: (scanDir, request) => {
        known.push(request.known);
        return inProcess.scan(scanDir, request);
      },
      close: () => inProcess.close(),
    };
    const sync = newSync({}, undefined, scanner);
    await write('p0.yaml', projectYaml('p0'));
    await sync.pass();
    const edited = `${projectYaml('p0')}# edited\n`;
    await write('p0.yaml', edited);
    await sync.pass();
    await sync.pass();
    expect(known[1]?.get('p0.yaml')?.contentHash).toBe(contentHash(projectYaml('p0')));
    expect(known[2]?.get('p0.yaml')?.contentHash).toBe(contentHash(edited));
  });

  it('an unchanged file puts back what it declares when its object was changed, relabelled or deleted through the API', async () => {
    const sync = newSync();
    await write('a.yaml', projectYaml('a', { FROM: 'file' }));
    await sync.pass();
    const declared = store.get('Project', 'a');
    if (!declared) throw new Error('expected Project/a');
    await store.apply({ ...declared, spec: { ...declared.spec, env: { FROM: 'api' } } });
    await sync.pass();
    expect(store.get('Project', 'a')?.spec.env).toEqual({ FROM: 'file' });
    expect(events.list({ name: 'a' }).at(-1)).toMatchObject({
      reason: 'Applied',
      message: expect.stringContaining('configured') as string,
    });

    await store.apply({ ...declared, metadata: { ...declared.metadata, labels: { added: 'by-hand' } } });
    await sync.pass();
    expect(store.get('Project', 'a')?.metadata.labels).toBeUndefined();

    await store.delete('Project', 'a');
    await sync.pass();
    expect(store.get('Project', 'a')?.spec.env).toEqual({ FROM: 'file' });
  });

  it('a refused file is tried and reported on every pass, unchanged or not', async () => {
    const sync = newSync();
    await applyWithCli('taken');
    await write('b.yaml', projectYaml('b').replace('b.localhost', 'taken.localhost'));
    await write('bad.yaml', 'kind: [');
    for (let round = 0; round < 3; round += 1) {
      const status = await sync.pass();
      expect(status.files.map((file) => [file.file, file.state])).toEqual([
        ['b.yaml', 'Failed'],
        ['bad.yaml', 'Invalid'],
      ]);
    }
    // A repeated event is counted, as kubectl shows them.
    expect(events.list({ name: 'b.yaml' }).find((event) => event.reason === 'ApplyFailed')?.count).toBe(3);
    expect(events.list({ name: 'bad.yaml' }).find((event) => event.reason === 'InvalidManifest')?.count).toBe(3);
  });
});

describe('DirectorySync retries', () => {
  it('a file the store refuses (its object still Terminating) is tried again later without any change', async () => {
    const terminating = await FileStore.open(path.join(root, 'state-finalizers'), {
      initialFinalizers: { Project: ['test/hold'] },
    });
    await store.close();
    store = terminating;
    const sync = newSync();
    await write('a.yaml', projectYaml('a'));
    await sync.pass();
    await terminating.delete('Project', 'a');
    await write('a.yaml', projectYaml('a', { CHANGED: 'yes' }));
    const status = await sync.pass();
    expect(status.files[0]).toMatchObject({
      state: 'Failed',
      objects: ['Project/a'],
      message: expect.stringContaining('is being deleted') as string,
    });
    expect(sync.recheckAt()).toBe(now + 5_000);
    await terminating.setFinalizers('Project', 'a', []);
    expect((await sync.pass()).files[0]?.state).toBe('Applied');
    expect(sync.recheckAt()).toBeUndefined();
  });
});

describe('DirectorySync while files are being written', () => {
  const WINDOW = 2_000;

  it('a file rewritten in two halves: the missing half is not pruned, and keeps its uid when it arrives', async () => {
    // The files' own times are a minute old for this clock: still, so read at once.
    const clock = new FakeClock(Date.now() + 60_000);
    const sync = newSync({ writeFinishMs: WINDOW }, clock);
    await write('f.yaml', `${projectYaml('a')}---\n${projectYaml('b')}`);
    await sync.pass();
    const uid = store.get('Project', 'b')?.metadata.uid;

    await write('f.yaml', projectYaml('a'));
    let status = await sync.pass();
    expect(status).toMatchObject({
      phase: 'Pending',
      pruned: [],
      pruneWaiting: { objects: ['Project/b'], until: new Date(clock.now() + WINDOW).toISOString() },
    });
    expect(sync.recheckAt()).toBe(clock.now() + WINDOW);
    await clock.advance(WINDOW / 2);
    expect((await sync.pass()).pruned).toEqual([]);

    await appendFile(path.join(dir, 'f.yaml'), `---\n${projectYaml('b')}`);
    status = await sync.pass();
    expect(status).toMatchObject({ phase: 'Synced', pruned: [] });
    expect(status.pruneWaiting).toBeUndefined();
    expect(store.get('Project', 'b')?.metadata.uid).toBe(uid);
    expect(events.list({ name: 'b' }).map((event) => event.reason)).toEqual(['Applied']);
  });

  it('prunes what is still missing from its file a window later (the second look)', async () => {
    const clock = new FakeClock(Date.now() + 60_000);
    const sync = newSync({ writeFinishMs: WINDOW }, clock);
    await write('f.yaml', `${projectYaml('a')}---\n${projectYaml('b')}`);
    await sync.pass();
    await write('f.yaml', projectYaml('a'));
    await sync.pass();
    await clock.advance(WINDOW);
    const status = await sync.pass();
    expect(status).toMatchObject({ phase: 'Synced', pruned: ['Project/b'] });
    expect(projectNames()).toEqual(['a']);
  });

  it('keeps owning what the share guard withheld from a file that still exists, so that a forced pass prunes it', async () => {
    const sync = newSync();
    await write('f.yaml', [projectYaml('a'), projectYaml('b'), projectYaml('c')].join('---\n'));
    await sync.pass();
    await write('f.yaml', projectYaml('a'));
    expect((await sync.pass()).pruneWithheld?.objects).toEqual(['Project/b', 'Project/c']);
    expect((await sync.pass({ force: true })).pruned).toEqual(['Project/b', 'Project/c']);
    expect(projectNames()).toEqual(['a']);
  });

  it('does not read a file that changes while it is watched: it is Writing, and keeps what it declared', async () => {
    await write('f.yaml', `${projectYaml('a')}---\n${projectYaml('b')}`);
    await newSync().pass();
    // The clock of the file system's times: the file written next is recent for it.
    const clock = new FakeClock(Date.now());
    const sync = newSync({ writeFinishMs: WINDOW }, clock);

    await write('f.yaml', projectYaml('a'));
    const pending = sync.pass();
    // The first look has been taken once the pass waits on the clock for the second.
    for (let turn = 0; turn < 1_000 && clock.pendingTimers() === 0; turn++) await settle();
    expect(clock.pendingTimers()).toBe(1);
    await appendFile(path.join(dir, 'f.yaml'), '---\n');
    await clock.advance(WINDOW);
    const status = await pending;
    expect(status.files).toEqual([
      {
        file: 'f.yaml',
        state: 'Writing',
        objects: ['Project/a', 'Project/b'],
        message: expect.stringContaining('still being written') as string,
      },
    ]);
    expect(status).toMatchObject({ phase: 'Pending', pruned: [] });
    expect(sync.recheckAt()).toBe(clock.now() + WINDOW);
    expect(projectNames()).toEqual(['a', 'b']);
  });
});

describe('DirectorySync through symbolic links', () => {
  it('a file replaced by a link to the same content is the same object: nothing pruned or re-created', async () => {
    const sync = newSync();
    await write('web.yaml', projectYaml('web'));
    await sync.pass();
    const uid = store.get('Project', 'web')?.metadata.uid;
    await writeFile(path.join(root, 'web-source.yaml'), projectYaml('web'));
    await unlink(path.join(dir, 'web.yaml'));
    await symlink(path.join(root, 'web-source.yaml'), path.join(dir, 'web.yaml'));
    const status = await sync.pass();
    expect(status).toMatchObject({ phase: 'Synced', pruned: [], files: [{ file: 'web.yaml', state: 'Applied' }] });
    expect(store.get('Project', 'web')?.metadata.uid).toBe(uid);
  });

  it('applies a ConfigMap mount once per file, and follows its ..data swap to a new folder', async () => {
    const sync = newSync();
    await write('..2026_12_07_10_00_00.1/app.yaml', projectYaml('app', { VERSION: 'one' }));
    await symlink('..2026_12_07_10_00_00.1', path.join(dir, '..data'));
    await symlink('..data/app.yaml', path.join(dir, 'app.yaml'));
    let status = await sync.pass();
    expect(status).toMatchObject({
      phase: 'Synced',
      conflicts: [],
      files: [{ file: 'app.yaml', state: 'Applied', objects: ['Project/app'] }],
    });
    const uid = store.get('Project', 'app')?.metadata.uid;

    // What the kubelet does: a new folder, a new link beside ..data, renamed over it, the old folder removed.
    await write('..2026_12_07_11_00_00.2/app.yaml', projectYaml('app', { VERSION: 'two' }));
    await symlink('..2026_12_07_11_00_00.2', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await rm(path.join(dir, '..2026_12_07_10_00_00.1'), { recursive: true });
    status = await sync.pass();
    expect(status).toMatchObject({ phase: 'Synced', pruned: [] });
    expect(store.get('Project', 'app')?.spec.env).toEqual({ VERSION: 'two' });
    expect(store.get('Project', 'app')?.metadata.uid).toBe(uid);
    expect(store.get('Project', 'app')?.metadata.annotations?.[SOURCE_FILE_ANNOTATION]).toBe('app.yaml');
  });

  it('reports a symbolic link loop for its path, applies the other files, and prunes nothing it declared', async () => {
    const sync = newSync();
    await write('ok.yaml', projectYaml('ok'));
    await write('looped.yaml', projectYaml('looped'));
    await sync.pass();
    await unlink(path.join(dir, 'looped.yaml'));
    await symlink('looped.yaml', path.join(dir, 'looped.yaml'));
    await symlink('.', path.join(dir, 'again'));
    const status = await sync.pass();
    expect(status.files.map((file) => [file.file, file.state])).toEqual([
      ['again', 'Invalid'],
      ['looped.yaml', 'Invalid'],
      ['ok.yaml', 'Applied'],
    ]);
    expect(status.files[1]).toMatchObject({
      objects: ['Project/looped'],
      issues: [{ message: 'not followed: a symbolic link loop (looped.yaml -> looped.yaml)' }],
    });
    expect(status.pruned).toEqual([]);
    expect(projectNames()).toEqual(['looped', 'ok']);
  });
});

describe('DirectorySync and its scan', () => {
  // A worker process started from the sources compiles them (tsx) at nice 10: on a busy machine, seconds.
  it('scans in a worker process unless told otherwise, and ends it on close', { timeout: 60_000 }, async () => {
    const sync = new DirectorySync({
      dir,
      store,
      inventory: new InventoryFile(stateDir),
      settings: SYNC,
      admission: DEFAULT_SETTINGS,
      resolveContext: () => Promise.reject(new Error('no contexts in these tests')),
      events: events.recorder('sync'),
      logger: silentLogger(),
    });
    await write('a.yaml', projectYaml('alpha'));
    try {
      const status = await sync.pass();
      expect(status.phase).toBe('Synced');
      expect(status.files[0]?.objects).toEqual(['Project/alpha']);
    } finally {
      await sync.close();
    }
    expect((await sync.pass()).error).toMatch(/the manifest scan was stopped/);
    expect(projectNames()).toEqual(['alpha']);
  });

  it('a scan that fails (its worker crashed) applies and prunes nothing, says why, and the next pass goes on', async () => {
    let failing = false;
    const inProcess = new InProcessScanner();
    const scanner: DirectoryScanner = {
      scan: (scanned, request) =>
        failing
          ? Promise.reject(new ScanWorkerError("the manifest scan's worker process crashed: boom"))
          : inProcess.scan(scanned, request),
      close: () => Promise.resolve(),
    };
    const sync = newSync({}, undefined, scanner);
    await write('a.yaml', projectYaml('alpha'));
    await write('b.yaml', projectYaml('beta'));
    await sync.pass();
    const uids = store.list('Project').map((project) => project.metadata.uid);

    await unlink(path.join(dir, 'b.yaml'));
    await write('a.yaml', projectYaml('alpha', { VERSION: 'two' }));
    failing = true;
    const failed = await sync.pass();
    expect(failed.phase).toBe('Degraded');
    expect(failed.error).toMatch(/worker process crashed: boom/);
    expect(projectNames()).toEqual(['alpha', 'beta']);
    expect(store.get('Project', 'alpha')?.spec.env).toBeUndefined();

    failing = false;
    await write('b.yaml', projectYaml('beta'));
    const after = await sync.pass();
    expect(after.phase).toBe('Synced');
    expect(after.pruned).toEqual([]);
    expect(store.list('Project').map((project) => project.metadata.uid)).toEqual(uids);
    expect(store.get('Project', 'alpha')?.spec.env).toEqual({ VERSION: 'two' });
  });
});
