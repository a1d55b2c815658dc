import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/model/parse.js';
import { contentHash, objectsHash, type KnownFile } from '../../../src/sync/scan.js';
import { ScanProcess, ScanWorkerError } from '../../../src/sync/scan-process.js';

// The scan in its worker process: the real worker reads a real directory and the main
// thread gets documents that answer positions as parsed ones do; a faulty worker (one that
// crashes, exits, hangs or talks nonsense) fails its scan with a clear error and is
// replaced by the next scan.

// Each worker process started from the sources compiles them (tsx) at nice 10: on a busy
// machine that takes seconds. A timeout per describe, not vi.setConfig: in the unit
// suite's shared worker processes vi.setConfig did not reach these tests (they timed out
// at vitest's default 5 s under load).
const SLOW = { timeout: 60_000 };

const FAULTY = new URL('../../support/workers/faulty-scan-worker.mjs', import.meta.url);
const NOTHING_KNOWN = { writeFinishMs: 0, known: new Map<string, KnownFile>() };

let root: string;
const scanners: ScanProcess[] = [];

function thread(options: ConstructorParameters<typeof ScanProcess>[0] = {}): ScanProcess {
  const created = new ScanProcess(options);
  scanners.push(created);
  return created;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'luma-scan-process-'));
});

afterEach(async () => {
  await Promise.all(scanners.splice(0).map((created) => created.close()));
  await rm(root, { recursive: true, force: true });
});

const project = (name: string): string =>
  `apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${name}\nspec:\n  image: busybox\n  hostnames:\n    - ${name}.localhost\n`;

/** What a scan is told of a file it applied with `text`. */
const knownAs = (text: string): KnownFile => ({
  contentHash: contentHash(text),
  objectsHash: objectsHash(parseManifests(text, 'applied.yaml')),
});

describe('ScanProcess with the real worker', SLOW, () => {
  // The tests that only read share one worker: from the sources each start loads the
  // worker's modules through tsx, most of a second of CPU. Its starts are tested below.
  const reader = new ScanProcess();
  afterAll(() => reader.close());

  it('parses, refuses and skips files as the scan in the process does, with positions', async () => {
    await writeFile(path.join(root, 'a.yaml'), project('a'));
    await writeFile(path.join(root, 'b.yaml'), project('b'));
    await writeFile(path.join(root, 'bad.yaml'), 'kind: [');
    const known = new Map([['b.yaml', knownAs(project('b'))]]);
    const scan = await reader.scan(root, { writeFinishMs: 0, known });
    expect(scan.exists).toBe(true);
    expect(scan.parsed.map((file) => file.file)).toEqual(['a.yaml']);
    expect(scan.unchanged).toEqual([
      { file: 'b.yaml', displayPath: path.join(root, 'b.yaml'), ...knownAs(project('b')) },
    ]);
    expect(scan.refused.map((file) => file.file)).toEqual(['bad.yaml']);
    const doc = scan.parsed[0]?.documents[0];
    expect(doc?.object.metadata.name).toBe('a');
    expect(doc?.position(['spec', 'hostnames', 0])).toEqual({ line: 8, column: 7 });
    // A field left out points at the nearest one written.
    expect(doc?.position(['spec', 'scaling', 'minInstances'])).toEqual({ line: 5, column: 1 });
  });

  it('counts a file whose comments or layout changed as unchanged, with its new bytes; one that declares more as parsed', async () => {
    const commented = `# edited\n${project('c').replace('  image: busybox', '  image: "busybox"  # quoted now')}`;
    const grown = project('d').replace('  image: busybox', '  image: busybox\n  port: 9000');
    await writeFile(path.join(root, 'c.yaml'), commented);
    await writeFile(path.join(root, 'd.yaml'), grown);
    const known = new Map([
      ['c.yaml', knownAs(project('c'))],
      ['d.yaml', knownAs(project('d'))],
    ]);
    const scan = await reader.scan(root, { writeFinishMs: 0, known });
    expect(scan.unchanged).toEqual([
      {
        file: 'c.yaml',
        displayPath: path.join(root, 'c.yaml'),
        contentHash: contentHash(commented),
        objectsHash: knownAs(project('c')).objectsHash,
      },
    ]);
    expect(scan.parsed.map((file) => [file.file, file.objectsHash])).toEqual([['d.yaml', knownAs(grown).objectsHash]]);
    expect(knownAs(grown).objectsHash).not.toBe(knownAs(project('d')).objectsHash);
  });

  it('sends many files in parts, in the order of the directory', async () => {
    await mkdir(path.join(root, 'many'));
    const names = Array.from({ length: 70 }, (_, index) => `p${String(index).padStart(3, '0')}`);
    await Promise.all(names.map((name) => writeFile(path.join(root, 'many', `${name}.yaml`), project(name))));
    const scan = await reader.scan(path.join(root, 'many'), NOTHING_KNOWN);
    expect(scan.parsed.map((file) => file.documents[0]?.object.metadata.name)).toEqual(names);
  });

  it('says a missing directory is missing, and keeps one worker across scans', async () => {
    const scanner = thread();
    expect((await scanner.scan(path.join(root, 'nowhere'), NOTHING_KNOWN)).exists).toBe(false);
    expect((await scanner.scan(root, NOTHING_KNOWN)).exists).toBe(true);
    expect(scanner.starts).toBe(1);
  });

  it('ends an idle worker, and starts another for the next scan', async () => {
    const scanner = thread({ idleMs: 20 });
    await scanner.scan(root, NOTHING_KNOWN);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await scanner.scan(root, NOTHING_KNOWN);
    expect(scanner.starts).toBe(2);
  });
});

describe('ScanProcess with a faulty worker', SLOW, () => {
  const faulty = (options: { stallMs?: number } = {}): ScanProcess => thread({ entry: FAULTY, ...options });

  it.each([
    ['crash', /worker process crashed: Error: boom in the scan/],
    ['exit', /worker process exited with code 3/],
    ['garbage', /sent a message that is not a scan reply/],
    ['stranger', /named never-told.yaml unchanged, a file it was not told of/],
  ])('fails the scan when the worker does %s, and starts a new one for the next', async (fault, message) => {
    const scanner = faulty();
    const failed = scanner.scan(path.join(root, fault), NOTHING_KNOWN);
    await expect(failed).rejects.toThrow(ScanWorkerError);
    await expect(failed).rejects.toThrow(message);
    await expect(failed).rejects.toThrow(/nothing is applied or pruned/);
    expect((await scanner.scan(path.join(root, 'fine'), NOTHING_KNOWN)).exists).toBe(true);
    expect(scanner.starts).toBe(2);
  });

  it('ends a worker that says nothing for the stall time', async () => {
    const scanner = faulty({ stallMs: 300 });
    await expect(scanner.scan(path.join(root, 'hang'), NOTHING_KNOWN)).rejects.toThrow(
      /did not answer for 0.3 s and was ended/,
    );
    expect((await scanner.scan(path.join(root, 'fine'), NOTHING_KNOWN)).exists).toBe(true);
    expect(scanner.starts).toBe(2);
  });

  it('passes on a scan that failed without blaming the worker', async () => {
    const scanner = faulty();
    await expect(scanner.scan(path.join(root, 'fails'), NOTHING_KNOWN)).rejects.toThrow(/^too many entries$/);
    await scanner.scan(path.join(root, 'fine'), NOTHING_KNOWN);
    expect(scanner.starts).toBe(1);
  });

  it('fails a scan in progress when closed, and every scan after', async () => {
    const scanner = faulty({ stallMs: 60_000 });
    const hanging = scanner.scan(path.join(root, 'hang'), NOTHING_KNOWN);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await scanner.close();
    await expect(hanging).rejects.toThrow(/the manifest scan was stopped/);
    await expect(scanner.scan(root, NOTHING_KNOWN)).rejects.toThrow(/stopped/);
  });

  it('reports an entry that does not exist as a crash, not as an empty directory', async () => {
    const scanner = thread({ entry: new URL('./no-such-worker.mjs', FAULTY) });
    await expect(scanner.scan(root, NOTHING_KNOWN)).rejects.toThrow(/worker process crashed: .*no-such-worker/);
  });
});
