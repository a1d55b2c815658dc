import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextDigest } from '../../../src/images/context.js';
import { gzip, snapshot, tarOf, tarOfDirectory, zipOf, zipOfDirectory } from '../../support/archives.js';
import { removeInstanceContainers, testInstance } from '../../support/docker.js';
import { startImagesLuma, stopImagesLuma } from '../../support/images-luma.js';
import { Api, httpdContext, imageManifest, uniqueName } from '../../support/images.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../../support/luma.js';

// Build contexts arrive as archives: uploaded to POST /contexts (tar, tar.gz, zip) and
// named `upload:sha256:…` in a manifest, or as an archive file next to a manifest that
// `luma apply -f` uploads. Hostile uploads are refused with the reason and leave nothing.

const FORMATS = [
  { format: 'tar', type: 'application/x-tar', file: 'site.tar', make: (dir: string) => tarOfDirectory(dir) },
  {
    format: 'tar.gz',
    type: 'application/gzip',
    file: 'site.tar.gz',
    make: async (dir: string) => gzip(await tarOfDirectory(dir)),
  },
  { format: 'zip', type: 'application/zip', file: 'site.zip', make: (dir: string) => zipOfDirectory(dir) },
] as const;

function slug(format: string): string {
  return format.replace('.', '');
}

describe('build contexts uploaded as archives', () => {
  const instance = testInstance('img-upload');
  const run = uniqueName('up');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;

  beforeAll(async () => {
    ({ luma, api, dir } = await startImagesLuma('img-upload', instance));
  });

  afterAll(() => stopImagesLuma({ luma, dir }, instance));

  async function served(name: string): Promise<string> {
    await eventually(async () => (await api.image(name)).status?.phase === 'Ready', 30_000, `image ${name} Ready`);
    // The Image's Ready wakes its Project, whose route says "Building" (503 at once) until
    // that reconcile has run: the answer is awaited, not the first one taken.
    let body = '';
    await eventually(
      async () => {
        const answer = await request(luma.proxyPort, `${name}.localhost`);
        body = answer.body;
        return answer.status === 200;
      },
      30_000,
      `project ${name} serving`,
    );
    return body;
  }

  it('builds from a tar, a tar.gz and a zip uploaded to POST /contexts and named upload:sha256:… in a manifest', async () => {
    const names: string[] = [];
    for (const { format, type, make } of FORMATS) {
      const site = await httpdContext(path.join(dir, 'api', slug(format)), `uploaded as ${format}\n`);
      const upload = await api.uploadContext(await make(site), type);
      expect(upload.status, JSON.stringify(upload.json)).toBe(200);
      // The digest is that of the files, whatever the archive format.
      expect(upload.json.digest).toBe(await contextDigest(site));

      const name = `${run}-api-${slug(format)}`;
      names.push(name);
      const yaml = `${imageManifest(name, { context: `upload:${upload.json.digest}` })}---\n${projectManifest(name, { image: name, hostnames: [`${name}.localhost`] })}`;
      const applied = await api.applyYaml(yaml);
      expect(applied.status, JSON.stringify(applied.json)).toBe(200);
      expect(applied.json.results).toEqual([
        { kind: 'Image', name, result: 'created' },
        { kind: 'Project', name, result: 'created' },
      ]);
    }
    for (const [index, { format }] of FORMATS.entries())
      expect(await served(names[index] ?? '')).toBe(`uploaded as ${format}\n`);
  });

  it('refuses a manifest naming an upload that was never made', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const applied = await api.applyYaml(imageManifest(`${run}-missing`, { context: `upload:${missing}` }));
    expect(applied.status).toBe(422);
    expect(applied.json.message).toContain(
      `no uploaded context ${missing} is stored; upload it to POST /contexts first`,
    );
    expect(applied.json.message).toContain('spec.build.context');
  });

  it('`luma apply -f` uploads an archive file (.tar, .tar.gz, .zip) that sits next to the manifest', async () => {
    const cliDir = path.join(dir, 'cli');
    const documents: string[] = [];
    const names: string[] = [];
    for (const { format, file, make } of FORMATS) {
      const site = await httpdContext(path.join(dir, 'sources', slug(format)), `applied as ${format}\n`);
      await mkdir(cliDir, { recursive: true });
      await writeFile(path.join(cliDir, file), await make(site));
      const name = `${run}-cli-${slug(format)}`;
      names.push(name);
      documents.push(
        imageManifest(name, { context: file }),
        projectManifest(name, { image: name, hostnames: [`${name}.localhost`] }),
      );
    }
    const manifest = path.join(cliDir, 'luma.yaml');
    await writeFile(manifest, documents.join('---\n'));
    // Run from elsewhere: the archives are found next to the manifest, not in the working directory.
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim().split('\n')).toEqual(
      names.flatMap((name) => [`image/${name} created`, `project/${name} created`]),
    );
    for (const [index, { format }] of FORMATS.entries())
      expect(await served(names[index] ?? '')).toBe(`applied as ${format}\n`);

    const again = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(again.stdout.trim().split('\n')).toEqual(
      names.flatMap((name) => [`image/${name} unchanged`, `project/${name} unchanged`]),
    );
  });

  it('`luma apply -f` refuses a hostile archive file next to the manifest, with the reason', async () => {
    const evilDir = path.join(dir, 'evil');
    await mkdir(evilDir, { recursive: true });
    await writeFile(path.join(evilDir, 'site.zip'), zipOf([{ name: '../escape.txt', content: 'x' }]));
    const manifest = path.join(evilDir, 'luma.yaml');
    await writeFile(manifest, imageManifest(`${run}-evil`, { context: 'site.zip' }));
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('context refused');
    expect(applied.stderr).toContain('../escape.txt');
    expect((await runCli(['get', 'image', `${run}-evil`], { api: luma.api })).code).not.toBe(0);
  });
});

describe('hostile uploads to POST /contexts', () => {
  const instance = testInstance('img-hostile');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;
  let contextsDir: string;
  let outsideBefore: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir('img-hostile');
    await mkdir(path.join(dir, 'manifests'));
    await writeFile(path.join(dir, 'secret.txt'), 'a file next to the state directory\n');
    const config = await writeConfig(dir, { resyncInterval: '1s', maxContextBytes: '1000000' });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
    });
    api = new Api(luma.api);
    contextsDir = path.join(dir, 'state', 'contexts');
    outsideBefore = await snapshot(dir, (relative) => relative === 'state' || relative.startsWith('state/'));
  });

  afterAll(async () => {
    // A hung upload (the truncated-tar BUG below) may hold up a graceful stop: bounded.
    const stopped = await Promise.race([
      luma ? luma.stop().then(() => true) : Promise.resolve(true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
    ]);
    if (!stopped) await luma?.kill();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The context store holds nothing but finished contexts (no staging folder left over). */
  async function strayEntries(): Promise<string[]> {
    return (await readdir(contextsDir).catch(() => [])).filter((entry) => !/^[0-9a-f]{64}$/.test(entry));
  }

  async function expectRefused(body: Buffer, type: string, reason: string): Promise<void> {
    const upload = await api.uploadContext(body, type);
    expect(upload.status, JSON.stringify(upload.json)).toBe(400);
    expect(upload.json.message).toContain('context refused: ');
    expect(upload.json.message).toContain(reason);
    // Still up, nothing left behind, nothing written outside the state directory.
    expect((await fetch(new URL('/healthz', luma.server))).status).toBe(200);
    expect(await strayEntries()).toEqual([]);
    expect(await snapshot(dir, (relative) => relative === 'state' || relative.startsWith('state/'))).toEqual(
      outsideBefore,
    );
  }

  it('refuses a zip with a ".." entry, a symlink entry, or an absolute name', async () => {
    await expectRefused(
      zipOf([
        { name: 'ok.txt', content: 'x' },
        { name: '../../escape.txt', content: 'x' },
      ]),
      'application/zip',
      '../../escape.txt',
    );
    await expectRefused(
      zipOf([{ name: 'link', content: '/etc', unixMode: 0o120777 }]),
      'application/zip',
      'entry "link" is not a regular file or directory',
    );
    await expectRefused(
      zipOf([{ name: path.join(dir, 'escape.txt'), content: 'x' }]),
      'application/zip',
      'absolute path',
    );
  });

  it('refuses a zip over the unpacked-size limit of the config', async () => {
    await expectRefused(
      zipOf([{ name: 'zeros.bin', content: Buffer.alloc(3_000_000) }]),
      'application/zip',
      'the archive unpacks to more than 1000000 bytes (limit reached in "zeros.bin")',
    );
  });

  it('refuses a body that is no archive, whatever its content type says', async () => {
    await expectRefused(
      Buffer.from('#!/bin/sh\necho hello\n'.repeat(40)),
      'application/x-tar',
      'the upload is not a tar, tar.gz or zip archive',
    );
    await expectRefused(
      Buffer.from('{"not":"an archive"}'.repeat(40)),
      'application/octet-stream',
      'not a tar, tar.gz or zip archive',
    );
  });

  it('refuses a tar with a ".." entry, a symlink that escapes, or too much data, and stays up', async () => {
    // Regression (fixed in b993456): the first of these used to end `luma up` with an
    // unhandled rejection ("socket hang up" for the client, a staging folder left behind).
    await expectRefused(
      await tarOf([
        { name: 'ok.txt', content: 'x' },
        { name: '../../escape.txt', content: 'x' },
      ]),
      'application/x-tar',
      'entry "../../escape.txt" climbs out of the context with ".."',
    );
    await expectRefused(
      await tarOf([{ name: 'up', type: 'symlink', linkname: '../..' }]),
      'application/x-tar',
      'symlink "up" points outside the context',
    );
    await expectRefused(
      gzip(await tarOf([{ name: 'zeros.bin', content: Buffer.alloc(3_000_000) }])),
      'application/gzip',
      'limit reached in "zeros.bin"',
    );
  });

  it('refuses a tar whose links reach a file outside through a chain of inside-looking symlinks', async () => {
    // Regression (fixed in b993456): `e -> .`, `f -> e/..`, `g -> f/..`, `h -> g/..` each
    // look inside, yet h is the directory above the state directory; the hard link then
    // copied secret.txt into the context, and a build could serve it.
    const archive = await tarOf([
      { name: 'e', type: 'symlink', linkname: '.' },
      { name: 'f', type: 'symlink', linkname: 'e/..' },
      { name: 'g', type: 'symlink', linkname: 'f/..' },
      { name: 'h', type: 'symlink', linkname: 'g/..' },
      { name: 'stolen', type: 'link', linkname: 'h/secret.txt' },
    ]);
    await expectRefused(archive, 'application/x-tar', '"stolen"');
  });

  // BUG (src/images/archive.ts unpackTar/writeFileEntry; unit tests in
  // test/unit/images/archive.test.ts): an upload whose tar data ends inside an entry never
  // gets an answer (the unpack waits forever on an entry stream destroyed before it was
  // piped), and its staging folder stays under state/contexts. Kept last: it leaves one.
  it('answers a truncated tar with 400 at once', async () => {
    const whole = await tarOf([{ name: 'a.txt', content: Buffer.alloc(4096, 'a') }]);
    const response = await apiFetch(luma.api, '/contexts', {
      method: 'POST',
      headers: { 'content-type': 'application/x-tar' },
      body: whole.subarray(0, 1500),
      signal: AbortSignal.timeout(3_000),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain('damaged');
    expect(await strayEntries()).toEqual([]);
  });
});
