import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packContext } from '../../src/images/context.js';
import { docker, testInstance } from '../support/docker.js';
import { writeContext } from '../support/images.js';

// Luma packs a build context itself (the digest decides rebuilds, and uploads travel as
// archives), so what it packs must be what `docker build` would have sent. Docker has no
// command that lists a context, so the real engine builds `FROM scratch` + `COPY . /ctx/`
// of the same directory, and the image's files (docker create + docker export) are compared
// with the entries Luma's packer produces.

const run = promisify(execFile);

const DOCKERIGNORE = [
  '# what the issue names',
  '**/node_modules',
  '*.log',
  '!keep.log',
  "# and more of Docker's grammar",
  './dist',
  'notes[0-9].txt',
  'v?.bak',
  'docs/*',
  '!docs/README.md',
  'Secret.TXT',
  '',
].join('\n');

const FILES = {
  Dockerfile: 'FROM scratch\nCOPY . /ctx/\n',
  '.dockerignore': DOCKERIGNORE,
  'index.js': 'x',
  'node_modules/left-pad/index.js': 'x',
  'packages/web/node_modules/react/index.js': 'x',
  'packages/web/src/app.js': 'x',
  'keep.log': 'x',
  'KEEP.log': 'names match case-sensitively: !keep.log does not bring this one back',
  'Secret.TXT': 'x',
  'secret.txt': 'x',
  'debug.log': 'x',
  'packages/web/trace.log': '*.log is a root-level pattern: this one is sent',
  'dist/bundle.js': 'x',
  'packages/web/dist/bundle.js': 'x',
  'notes1.txt': 'x',
  'notesA.txt': 'x',
  'v1.bak': 'x',
  'v10.bak': 'x',
  'docs/guide.md': 'x',
  'docs/README.md': 'x',
};

/** Every path under `prefix` in a tar stream, as `d path` or `f path`, sorted. */
async function tarListing(stream: Readable, prefix = ''): Promise<string[]> {
  const extract = tarStream.extract();
  Readable.from([await buffer(stream)]).pipe(extract);
  const listing: string[] = [];
  for await (const entry of extract) {
    const name = entry.header.name.replace(/\/$/, '');
    entry.resume();
    if (!name.startsWith(prefix) || name === prefix.replace(/\/$/, '')) continue;
    listing.push(`${entry.header.type === 'directory' ? 'd' : 'f'} ${name.slice(prefix.length)}`);
  }
  return listing.sort();
}

describe('.dockerignore against the real docker build', () => {
  const instance = testInstance('dockerignore');
  const tag = `luma-test/${instance}:ctx`;
  let dir: string;
  let containerId: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'luma-dockerignore-'));
    await writeContext(path.join(dir, 'ctx'), FILES, { busybox: false });
  });

  afterAll(async () => {
    if (containerId)
      await docker
        .getContainer(containerId)
        .remove({ force: true })
        .catch(() => undefined);
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('sends exactly the files docker build copies (**/node_modules, *.log, !keep.log, case and more)', async () => {
    await run('docker', ['build', '-q', '--label', `luma.dev/instance=${instance}`, '-t', tag, path.join(dir, 'ctx')]);
    // A scratch image has no command; create needs one, but nothing is ever run.
    containerId = (
      await run('docker', ['create', '--label', `luma.dev/instance=${instance}`, tag, '/none'])
    ).stdout.trim();
    const exported = await docker.getContainer(containerId).export();
    const dockers = await tarListing(exported as unknown as Readable, 'ctx/');
    const lumas = await tarListing(packContext(path.join(dir, 'ctx')));

    expect(lumas).toEqual(dockers);
    // And the comparison is not empty-handed: the cases the issue names are in it.
    expect(dockers).toContain('f keep.log');
    expect(dockers).toContain('f packages/web/trace.log');
    expect(dockers).toContain('f docs/README.md');
    expect(dockers).toContain('f secret.txt');
    expect(
      dockers.some((line) => line.includes('node_modules') || line === 'f debug.log' || line.startsWith('d dist')),
    ).toBe(false);
  });
});
