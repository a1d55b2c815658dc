import { execFile } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import tarStream from 'tar-stream';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unpackArchive } from '../../../src/images/archive.js';
import { contextDigest, ContextError, listContext, packContext } from '../../../src/images/context.js';

// The digest of a build context decides whether an Image is rebuilt: the same files must
// always give the same digest (whatever their times, owners or copy), and any change that
// `docker build` would see must give another.

let base: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'luma-context-'));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function write(root: string, files: Record<string, string>): Promise<string> {
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
    await writeFile(path.join(root, relative), content);
  }
  return root;
}

const FILES = {
  Dockerfile: 'FROM scratch\nCOPY www /www\n',
  'www/index.html': 'hello\n',
  'www/css/site.css': 'body{}\n',
};

async function tarEntries(
  stream: Readable,
): Promise<
  Array<{ name: string; type: string; mode: number; mtime: number; uid: number; linkname?: string; content: string }>
> {
  const extract = tarStream.extract();
  const entries = [];
  Readable.from([await buffer(stream)]).pipe(extract);
  for await (const entry of extract) {
    const content = (await buffer(entry as unknown as Readable)).toString();
    const { header } = entry;
    entries.push({
      name: header.name,
      type: header.type ?? '',
      mode: header.mode ?? 0,
      mtime: header.mtime?.getTime() ?? -1,
      uid: header.uid ?? -1,
      ...(header.linkname ? { linkname: header.linkname } : {}),
      content,
    });
  }
  return entries;
}

describe('contextDigest is stable', () => {
  it('is the same for a copy, for files written in another order, and after times change', async () => {
    const a = await write(path.join(base, 'a'), FILES);
    const b = await write(path.join(base, 'b'), Object.fromEntries(Object.entries(FILES).reverse()));
    const c = path.join(base, 'c');
    await cp(a, c, { recursive: true });
    await utimes(path.join(c, 'www/index.html'), new Date('2001-01-01'), new Date('2001-01-01'));
    await utimes(path.join(c, 'www'), new Date('2002-02-02'), new Date('2002-02-02'));
    const digest = await contextDigest(a);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await contextDigest(b)).toBe(digest);
    expect(await contextDigest(c)).toBe(digest);
    expect(await contextDigest(a)).toBe(digest);
  });

  it('ignores owners and the permission bits other than "executable"', async () => {
    const a = await write(path.join(base, 'a'), FILES);
    const digest = await contextDigest(a);
    await chown(path.join(a, 'www/index.html'), 1234, 5678).catch(() => undefined);
    await chmod(path.join(a, 'www/index.html'), 0o600);
    expect(await contextDigest(a)).toBe(digest);
  });
});

describe('contextDigest changes with what a build sees', () => {
  let root: string;
  let digest: string;

  beforeEach(async () => {
    root = await write(path.join(base, 'ctx'), FILES);
    await symlink('index.html', path.join(root, 'www/home.html'));
    digest = await contextDigest(root);
  });

  it('changes when a file content changes (even by one byte, same size)', async () => {
    await writeFile(path.join(root, 'www/index.html'), 'hellp\n');
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('changes when a file becomes executable', async () => {
    await chmod(path.join(root, 'www/index.html'), 0o755);
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('changes when a file is added, even an empty one', async () => {
    await writeFile(path.join(root, 'www/new.txt'), '');
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('changes when an empty directory is added', async () => {
    await mkdir(path.join(root, 'empty'));
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('changes when a file is renamed', async () => {
    await rm(path.join(root, 'www/css/site.css'));
    await writeFile(path.join(root, 'www/css/main.css'), 'body{}\n');
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('changes when a symlink target changes', async () => {
    await rm(path.join(root, 'www/home.html'));
    await symlink('css/site.css', path.join(root, 'www/home.html'));
    expect(await contextDigest(root)).not.toBe(digest);
  });

  it('does not confuse content moved across a file boundary', async () => {
    const one = await write(path.join(base, 'one'), { a: 'xy', b: 'z' });
    const two = await write(path.join(base, 'two'), { a: 'x', b: 'yz' });
    expect(await contextDigest(one)).not.toBe(await contextDigest(two));
  });
});

describe('.dockerignore', () => {
  it('leaves out what it names (root patterns, **, directories), and a change there does not change the digest', async () => {
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore': '# build junk\nnode_modules\n*.tmp\n**/*.log\n/secrets/\n\n',
      'node_modules/pkg/index.js': 'x',
      'scratch.tmp': 'x',
      'www/debug.log': 'x',
      'deep/a/b/trace.log': 'x',
      'secrets/key': 'x',
      'www/keep.tmp': 'nested: *.tmp is a root-level pattern, as in Docker',
    });
    const listed = (await listContext(root)).map((entry) => entry.relative);
    expect(listed).toEqual([
      '.dockerignore',
      'Dockerfile',
      'deep',
      'deep/a',
      'deep/a/b',
      'www',
      'www/css',
      'www/css/site.css',
      'www/index.html',
      'www/keep.tmp',
    ]);

    const digest = await contextDigest(root);
    await writeFile(path.join(root, 'scratch.tmp'), 'changed');
    await writeFile(path.join(root, 'node_modules/pkg/index.js'), 'changed');
    await writeFile(path.join(root, 'www/other.log'), 'new');
    expect(await contextDigest(root)).toBe(digest);
    await writeFile(path.join(root, 'www/index.html'), 'changed');
    expect(await contextDigest(root)).not.toBe(digest);

    const names = (await tarEntries(packContext(root))).map((entry) => entry.name);
    expect(names).not.toContain('scratch.tmp');
    expect(
      names.some((name) => name.startsWith('node_modules') || name.startsWith('secrets') || name.endsWith('.log')),
    ).toBe(false);
  });

  it('honours "!" exceptions, as docker build does', async () => {
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore': '*.log\n!keep.log\n',
      'keep.log': 'x',
      'drop.log': 'x',
    });
    const listed = (await listContext(root)).map((entry) => entry.relative);
    expect(listed).toContain('keep.log');
    expect(listed).not.toContain('drop.log');
  });

  // Docker sends the Dockerfile and .dockerignore even when .dockerignore names them (the
  // daemon only keeps them out of COPY): a context whose .dockerignore says "*" must still build.
  it('still sends the Dockerfile when .dockerignore names it', async () => {
    const root = await write(path.join(base, 'ctx'), { ...FILES, '.dockerignore': 'Dockerfile\n' });
    const names = (await tarEntries(packContext(root))).map((entry) => entry.name);
    expect(names).toContain('Dockerfile');
  });

  it('still sends a named Dockerfile (spec.build.dockerfile) under an ignored directory', async () => {
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore': '*\n!www\n',
      'build/app.Dockerfile': 'FROM scratch\n',
      'build/other': 'x',
    });
    const names = (await tarEntries(packContext(root, { dockerfile: './build/app.Dockerfile' }))).map(
      (entry) => entry.name,
    );
    expect(names.sort()).toEqual([
      '.dockerignore',
      'Dockerfile',
      'build/app.Dockerfile',
      'www',
      'www/css',
      'www/css/site.css',
      'www/index.html',
    ]);
  });

  it('means what Docker means: **/ at any depth, ./ and / prefixes, character classes, ? and exceptions in ignored directories', async () => {
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore':
        '**/node_modules\n**/*.log\n!keep.log\n./dist\n/cache\nnotes[0-9].txt\nv?.bak\ndocs/*\n!docs/README.md\n',
      'node_modules/a/index.js': 'x',
      'www/node_modules/b/index.js': 'x',
      'keep.log': 'kept',
      'drop.log': 'x',
      'www/deep/trace.log': 'x',
      'dist/app.js': 'x',
      'www/dist/app.js': 'a nested dist is not ./dist',
      'cache/blob': 'x',
      'notes1.txt': 'x',
      'notesA.txt': 'not a digit',
      'v1.bak': 'x',
      'v10.bak': 'two characters',
      'docs/guide.md': 'x',
      'docs/README.md': 'brought back',
    });
    const files = (await listContext(root)).filter((entry) => entry.type === 'file').map((entry) => entry.relative);
    expect(files).toEqual([
      '.dockerignore',
      'Dockerfile',
      'docs/README.md',
      'keep.log',
      'notesA.txt',
      'v10.bak',
      'www/css/site.css',
      'www/dist/app.js',
      'www/index.html',
    ]);
  });

  it('matches names case-sensitively, as docker build on Linux does', async () => {
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore': 'Secret.TXT\n*.log\n!keep.log\n',
      'Secret.TXT': 'left out',
      'secret.txt': 'another name: sent',
      'keep.log': 'brought back',
      'KEEP.log': 'not what the exception names: left out',
    });
    const files = (await listContext(root)).filter((entry) => entry.type === 'file').map((entry) => entry.relative);
    expect(files).toEqual([
      '.dockerignore',
      'Dockerfile',
      'keep.log',
      'secret.txt',
      'www/css/site.css',
      'www/index.html',
    ]);
  });

  it('finishes at once on patterns that make a backtracking matcher take minutes', async () => {
    const longName = 'a'.repeat(60);
    const deep = Array.from({ length: 30 }, () => 'a').join('/');
    const root = await write(path.join(base, 'ctx'), {
      ...FILES,
      '.dockerignore': `*a*a*a*a*a*a*a*a*x\n${Array.from({ length: 12 }, () => '**').join('/')}/x\n**a**a**a**a**a**x\n`,
      [longName]: 'x',
      [`${deep}/y`]: 'x',
    });
    const started = performance.now();
    const files = (await listContext(root)).filter((entry) => entry.type === 'file').map((entry) => entry.relative);
    // @balena/dockerignore's own RegExp takes about a minute on the first pattern alone.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(files).toContain(longName);
    expect(files).toContain(`${deep}/y`);
  });

  it('refuses a pattern Docker would refuse, naming it', async () => {
    const root = await write(path.join(base, 'ctx'), { ...FILES, '.dockerignore': 'www/[z-a]\n' });
    await expect(listContext(root)).rejects.toThrow(ContextError);
    // `docker build` says "syntax error in pattern" for both.
    for (const [index, pattern] of ['www/[a', 'trail\\'].entries()) {
      const broken = await write(path.join(base, `ctx-broken-${index}`), {
        ...FILES,
        '.dockerignore': `*.log\n${pattern}\n`,
      });
      await expect(listContext(broken)).rejects.toThrow(`.dockerignore: the pattern "${pattern}" is not valid`);
    }
    const escaped = await write(path.join(base, 'ctx-escaped'), {
      ...FILES,
      '.dockerignore': '# a comment may end with \\\na\\\\\nb\\*\n',
    });
    await expect(listContext(escaped)).resolves.toBeDefined();
  });
});

describe('packContext', () => {
  it('packs the files with normalised times and owners, links as links, and unpacks to the same digest', async () => {
    const root = await write(path.join(base, 'ctx'), FILES);
    await writeFile(path.join(root, 'run.sh'), '#!/bin/sh\n');
    await chmod(path.join(root, 'run.sh'), 0o755);
    await symlink('/etc/passwd', path.join(root, 'outside-link'));
    await utimes(path.join(root, 'Dockerfile'), new Date('2010-01-01'), new Date('2010-01-01'));

    const entries = await tarEntries(packContext(root));
    expect(entries.map((entry) => entry.name)).toEqual([
      'Dockerfile',
      'outside-link',
      'run.sh',
      'www',
      'www/css',
      'www/css/site.css',
      'www/index.html',
    ]);
    expect(new Set(entries.map((entry) => entry.mtime))).toEqual(new Set([0]));
    expect(new Set(entries.map((entry) => entry.uid))).toEqual(new Set([0]));
    expect(entries.find((entry) => entry.name === 'run.sh')?.mode).toBe(0o755);
    expect(entries.find((entry) => entry.name === 'Dockerfile')?.mode).toBe(0o644);
    // A link is sent as a link; what it points to outside is never read.
    expect(entries.find((entry) => entry.name === 'outside-link')).toMatchObject({
      type: 'symlink',
      linkname: '/etc/passwd',
      content: '',
    });
    expect(entries.find((entry) => entry.name === 'www/index.html')?.content).toBe('hello\n');

    await rm(path.join(root, 'outside-link'));
    const copy = path.join(base, 'unpacked');
    await unpackArchive(await buffer(packContext(root)), copy);
    expect(await contextDigest(copy)).toBe(await contextDigest(root));
  });

  it('follows a symlinked context root, as docker build does, and keeps links inside as links', async () => {
    const root = await write(path.join(base, 'real'), FILES);
    await symlink('index.html', path.join(root, 'www/home.html'));
    await symlink('real', path.join(base, 'linked'));
    expect(await contextDigest(path.join(base, 'linked'))).toBe(await contextDigest(root));
    const entries = await tarEntries(packContext(path.join(base, 'linked')));
    expect(entries.find((entry) => entry.name === 'www/index.html')).toMatchObject({
      type: 'file',
      content: 'hello\n',
    });
    expect(entries.find((entry) => entry.name === 'www/home.html')).toMatchObject({
      type: 'symlink',
      linkname: 'index.html',
    });
  });

  it('fails the stream when the directory is not there', async () => {
    await expect(buffer(packContext(path.join(base, 'missing')))).rejects.toThrow(/is not a directory/);
  });
});

describe('listContext refuses what cannot be a build context', () => {
  it('refuses a path that is not a directory', async () => {
    await writeFile(path.join(base, 'file'), 'x');
    await expect(listContext(path.join(base, 'file'))).rejects.toThrow(ContextError);
    await expect(listContext(path.join(base, 'nothing'))).rejects.toThrow(
      `the build context ${path.join(base, 'nothing')} is not a directory`,
    );
  });

  it('refuses a fifo inside, naming it', async () => {
    const root = await write(path.join(base, 'ctx'), FILES);
    await promisify(execFile)('mkfifo', [path.join(root, 'www/pipe')]);
    await expect(contextDigest(root)).rejects.toThrow(
      'www/pipe in the build context is neither a file, a directory nor a symlink',
    );
  });
});
