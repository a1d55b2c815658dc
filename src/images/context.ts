import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';

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

interface IgnoreRule {
  pattern: RegExp;
  /** `!pattern`: brings back what an earlier rule left out. */
  keep: boolean;
}

/** The rules of .dockerignore, in order: as in `docker build`, the last rule that matches decides. */
async function ignoreRules(root: string): Promise<IgnoreRule[]> {
  const text = await readFile(path.join(root, '.dockerignore'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const keep = line.startsWith('!');
      const body = (keep ? line.slice(1) : line)
        .trim()
        .replace(/^\/+|\/+$/g, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*/g, '\u0000')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '.*');
      return { pattern: new RegExp(`^${body}(/.*)?$`), keep };
    });
}

/** The Dockerfile and .dockerignore always travel, as Docker sends them whatever the rules say. */
const ALWAYS_SENT = new Set(['Dockerfile', '.dockerignore']);

function isIgnored(rules: IgnoreRule[], relative: string): boolean {
  if (ALWAYS_SENT.has(relative)) return false;
  let ignored = false;
  for (const rule of rules) if (rule.pattern.test(relative)) ignored = !rule.keep;
  return ignored;
}

export async function listContext(root: string): Promise<ContextEntry[]> {
  const info = await lstat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new ContextError(`the build context ${root} is not a directory`);
  const rules = await ignoreRules(root);
  const entries: ContextEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const absolute = path.join(dir, name);
      const relative = path.relative(root, absolute).split(path.sep).join('/');
      // A directory left out may still hold files a `!` rule brings back: walk it anyway.
      const stat = await lstat(absolute);
      if (isIgnored(rules, relative) && !(stat.isDirectory() && rules.some((rule) => rule.keep))) continue;
      if (stat.isDirectory()) {
        entries.push({ relative, type: 'directory', mode: 0o755, size: 0 });
        await walk(absolute);
      } else if (stat.isFile()) {
        entries.push({ relative, type: 'file', mode: stat.mode & 0o111 ? 0o755 : 0o644, size: stat.size });
      } else if (stat.isSymbolicLink()) {
        entries.push({ relative, type: 'symlink', mode: 0o777, size: 0, linkTarget: await readlink(absolute) });
      } else {
        throw new ContextError(`${relative} in the build context is neither a file, a directory nor a symlink`);
      }
    }
  };
  await walk(root);
  return entries;
}

export async function contextDigest(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const entry of await listContext(root)) {
    hash.update(`${entry.type}\0${entry.relative}\0${entry.mode.toString(8)}\0${entry.linkTarget ?? ''}\0`);
    if (entry.type === 'file') {
      for await (const chunk of createReadStream(path.join(root, entry.relative))) hash.update(chunk as Buffer);
      hash.update('\0');
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The directory as a tar stream, with normalised owners and times, for `docker build`. */
export function packContext(root: string): Readable {
  const pack = tarStream.pack();
  void (async () => {
    try {
      for (const entry of await listContext(root)) {
        const header = { name: entry.relative, mode: entry.mode, mtime: new Date(0), uid: 0, gid: 0 };
        if (entry.type === 'directory') pack.entry({ ...header, type: 'directory' });
        else if (entry.type === 'symlink') pack.entry({ ...header, type: 'symlink', linkname: entry.linkTarget ?? '' });
        else {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...header, type: 'file', size: entry.size }, (error) => (error ? reject(error) : resolve()));
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
