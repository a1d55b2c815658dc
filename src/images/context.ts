import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat as statThroughLinks } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { parseDockerIgnore, type DockerIgnore } from './dockerignore.js';

// A build context is a directory. Its digest covers every path, type, executable bit,
// link target and file content (nothing else: not timestamps, not owners), so the same
// files always give the same digest and any change gives another one.

interface ContextEntry {
  relative: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  linkTarget?: string;
}

export class ContextError extends Error {
  readonly code = 'BadContext';
  constructor(message: string) {
    super(message);
    this.name = 'ContextError';
  }
}

export interface ContextOptions {
  /** spec.build.dockerfile, relative to the context: sent whatever .dockerignore says. */
  dockerfile?: string;
}

/** Sent whatever .dockerignore says, as `docker build` sends them (the daemon then keeps them out of COPY if ignored). */
function alwaysSent(options: ContextOptions): Set<string> {
  const sent = new Set(['Dockerfile', '.dockerignore']);
  if (options.dockerfile)
    sent.add(path.posix.normalize(options.dockerfile.split(path.sep).join('/')).replace(/^(\.\/)+/, ''));
  return sent;
}

async function readDockerIgnore(root: string): Promise<DockerIgnore> {
  const text = await readFile(path.join(root, '.dockerignore'), 'utf8').catch(() => '');
  try {
    return parseDockerIgnore(text);
  } catch (error) {
    throw new ContextError((error as Error).message);
  }
}

/** What of `root` a build sees: every entry .dockerignore keeps, in a stable order. */
export async function listContext(root: string, options: ContextOptions = {}): Promise<ContextEntry[]> {
  // The root is followed when it is a symlink, as `docker build` follows it (its client
  // resolves the context path before walking it); links inside the context stay links.
  const info = await statThroughLinks(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new ContextError(`the build context ${root} is not a directory`);
  const rules = await readDockerIgnore(root);
  const sent = alwaysSent(options);
  const entries: ContextEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const absolute = path.join(dir, name);
      const relative = path.relative(root, absolute).split(path.sep).join('/');
      const stat = await lstat(absolute);
      const kept = sent.has(relative) || !rules.ignores(relative);
      if (kept) entries.push(await entryOf(absolute, relative, stat));
      // An ignored directory is entered only when an exception (or a file always sent) names something under it, as Docker does.
      if (
        stat.isDirectory() &&
        (kept || rules.mayKeepUnder(relative) || [...sent].some((file) => file.startsWith(`${relative}/`)))
      )
        await walk(absolute);
    }
  };
  await walk(root);
  return entries;
}

async function entryOf(absolute: string, relative: string, stat: Stats): Promise<ContextEntry> {
  if (stat.isDirectory()) return { relative, type: 'directory', mode: 0o755, size: 0 };
  if (stat.isFile()) return { relative, type: 'file', mode: stat.mode & 0o111 ? 0o755 : 0o644, size: stat.size };
  if (stat.isSymbolicLink())
    return { relative, type: 'symlink', mode: 0o777, size: 0, linkTarget: await readlink(absolute) };
  throw new ContextError(`${relative} in the build context is neither a file, a directory nor a symlink`);
}

export async function contextDigest(root: string, options: ContextOptions = {}): Promise<string> {
  const hash = createHash('sha256');
  for (const entry of await listContext(root, options)) {
    hash.update(`${entry.type}\0${entry.relative}\0${entry.mode.toString(8)}\0${entry.linkTarget ?? ''}\0`);
    if (entry.type === 'file') {
      for await (const chunk of createReadStream(path.join(root, entry.relative))) hash.update(chunk as Buffer);
      hash.update('\0');
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The directory as a tar stream, with normalised owners and times, for `docker build`. */
export function packContext(root: string, options: ContextOptions = {}): Readable {
  const pack = tarStream.pack();
  void (async () => {
    try {
      for (const entry of await listContext(root, options)) {
        const header = { name: entry.relative, mode: entry.mode, mtime: new Date(0), uid: 0, gid: 0 };
        if (entry.type === 'directory') pack.entry({ ...header, type: 'directory' });
        else if (entry.type === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: entry.linkTarget ?? '' });
        else {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...header, type: 'file', size: entry.size }, (error) =>
              error ? reject(error) : resolve(),
            );
            createReadStream(path.join(root, entry.relative)).on('error', reject).pipe(sink);
          });
        }
      }
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
  })();
  // tar-stream speaks streamx; Docker's client wants a Node stream.
  return Readable.from(pack);
}
