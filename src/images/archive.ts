import { createWriteStream } from 'node:fs';
import { mkdir, symlink, link, lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';

// Unpacks an uploaded build context (tar, tar.gz or zip) into an empty directory.
// Archives are hostile until proven otherwise: every entry is checked before anything
// of it is written, and the first bad entry aborts the whole unpack.

export interface ArchiveLimits {
  /** Total bytes of file content once unpacked. */
  maxUnpackedBytes: number;
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxUnpackedBytes: 512 * 1024 * 1024,
  maxEntries: 20_000,
};

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export class ArchiveError extends Error {
  readonly code = 'BadArchive';
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** Recognises the format from the first bytes, whatever the upload claimed. */
export function detectFormat(head: Buffer): ArchiveFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip';
  if (head.length >= 262 && head.toString('ascii', 257, 262) === 'ustar') return 'tar';
  throw new ArchiveError('the upload is not a tar, tar.gz or zip archive');
}

/**
 * The entry's path inside the context, or an error naming it. Refuses absolute paths,
 * `..` segments, NUL bytes and Windows drive letters.
 */
export function safeEntryPath(rawName: string): string {
  if (rawName.includes('\0'))
    throw new ArchiveError(`entry "${rawName.replace(/\0/g, '\\0')}" has a NUL byte in its name`);
  const name = rawName.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name))
    throw new ArchiveError(`entry "${rawName}" has an absolute path`);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw new ArchiveError(`entry "${rawName}" climbs out of the context with ".."`);
  return segments.join('/');
}

/** A link target must stay inside the context once resolved from the link's own folder. */
function checkLinkTarget(entryPath: string, target: string, kind: 'symlink' | 'hard link'): void {
  if (target.startsWith('/') || /^[a-zA-Z]:/.test(target))
    throw new ArchiveError(`${kind} "${entryPath}" points to the absolute path "${target}"`);
  const base = kind === 'symlink' ? path.posix.dirname(entryPath) : '';
  const resolved = path.posix.normalize(path.posix.join(base, target));
  if (resolved === '..' || resolved.startsWith('../'))
    throw new ArchiveError(`${kind} "${entryPath}" points outside the context ("${target}")`);
}

class Budget {
  private bytes = 0;
  private entries = 0;
  constructor(private readonly limits: ArchiveLimits) {}

  entry(name: string): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries)
      throw new ArchiveError(
        `the archive has more than ${this.limits.maxEntries} entries (limit reached at "${name}")`,
      );
  }

  /** Counts bytes as they stream, so a lying size header cannot get past the limit. */
  meter(name: string): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxUnpackedBytes) {
          callback(
            new ArchiveError(
              `the archive unpacks to more than ${this.limits.maxUnpackedBytes} bytes (limit reached in "${name}")`,
            ),
          );
          return;
        }
        callback(null, chunk);
      },
    });
  }
}

/** Refuses to write through a symlink an earlier entry planted (a classic escape). */
async function assertNoSymlinkOnPath(root: string, relative: string): Promise<void> {
  const parts = relative.split('/');
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = path.join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (info?.isSymbolicLink())
      throw new ArchiveError(
        `entry "${relative}" would be written through the symlink "${path.relative(root, current)}"`,
      );
  }
}

async function writeFileEntry(
  root: string,
  relative: string,
  content: Readable,
  mode: number,
  budget: Budget,
): Promise<void> {
  await assertNoSymlinkOnPath(root, relative);
  const target = path.join(root, relative);
  await mkdir(path.dirname(target), { recursive: true });
  // The archive may have ended (truncated) while we awaited: pipeline() on a destroyed
  // stream would never settle.
  if ((content as Readable & { destroyed?: boolean }).destroyed)
    throw new ArchiveError(`entry "${relative}" is damaged: the archive ends inside it`);
  try {
    // 'wx': never overwrite, so a second entry cannot replace or follow what a first one made.
    await pipeline(content, budget.meter(relative), createWriteStream(target, { flags: 'wx', mode: mode & 0o755 }));
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`entry "${relative}" is damaged or cannot be written: ${(error as Error).message}`);
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Link targets are checked lexically as entries arrive, but a chain of links can escape
 * where each link alone looks inside (e -> ., f -> e/..). Once everything is unpacked,
 * each symlink is resolved on disk and must land inside the context.
 */
async function assertLinksResolveInside(root: string, links: string[]): Promise<void> {
  const realRoot = await realpath(root);
  for (const relative of links) {
    if (!isInside(realRoot, await resolveOnDisk(path.join(root, relative))))
      throw new ArchiveError(`symlink "${relative}" resolves outside the context`);
  }
}

/**
 * Where a link leads on disk. A link to something missing (allowed, as in a directory
 * context) is followed as far as its path exists; each step starts from a real path, so
 * `..` there means what the kernel would make of it.
 */
async function resolveOnDisk(link: string): Promise<string> {
  try {
    return await realpath(link);
  } catch {
    let current = await realpath(path.dirname(link));
    const parts = (await readlink(link)).split('/').filter((part) => part !== '' && part !== '.');
    let index = 0;
    for (; index < parts.length; index++) {
      try {
        current = await realpath(path.resolve(current, parts[index] ?? ''));
      } catch {
        break;
      }
    }
    return path.resolve(current, ...parts.slice(index));
  }
}

async function unpackTar(input: Readable, root: string, limits: ArchiveLimits): Promise<void> {
  const budget = new Budget(limits);
  const extract = tarStream.extract();
  const symlinks: string[] = [];
  const reading: { entry?: { destroy(error?: Error): void } } = {};
  // Listened to at once: a refused entry stops reading, and the pipeline's own rejection
  // must not become an unhandled one (which would end the daemon).
  let pipelineError: unknown;
  const done = pipeline(input, extract).catch((error: unknown) => {
    pipelineError = error;
    // A truncated archive ends the input early; the entry being written and the entry
    // loop must end too, not wait for bytes that will never come.
    reading.entry?.destroy(error as Error);
    extract.destroy(error as Error);
  });
  try {
    await readTarEntries(extract, root, budget, symlinks, reading);
  } catch (error) {
    input.destroy();
    extract.destroy();
    await done;
    throw error;
  }
  await done;
  if (pipelineError) throw pipelineError;
  await assertLinksResolveInside(root, symlinks);
}

async function readTarEntries(
  extract: ReturnType<typeof tarStream.extract>,
  root: string,
  budget: Budget,
  symlinks: string[],
  reading: { entry?: { destroy(error?: Error): void } },
): Promise<void> {
  for await (const entry of extract) {
    reading.entry = entry;
    const { header } = entry;
    const relative = safeEntryPath(header.name);
    budget.entry(header.name);
    if (relative === '') {
      entry.resume();
      continue;
    }
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        await writeFileEntry(root, relative, entry as unknown as Readable, header.mode ?? 0o644, budget);
        break;
      case 'directory':
        await assertNoSymlinkOnPath(root, `${relative}/x`);
        await mkdir(path.join(root, relative), { recursive: true });
        entry.resume();
        break;
      case 'symlink': {
        const target = header.linkname ?? '';
        checkLinkTarget(relative, target, 'symlink');
        await assertNoSymlinkOnPath(root, relative);
        await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
        await symlink(target, path.join(root, relative));
        symlinks.push(relative);
        entry.resume();
        break;
      }
      case 'link': {
        // Checked as a link first, so the message names the link at fault.
        checkLinkTarget(relative, header.linkname ?? '', 'hard link');
        const target = safeEntryPath(header.linkname ?? '');
        await assertNoSymlinkOnPath(root, target).catch(() => {
          throw new ArchiveError(`hard link "${relative}" points through a symlink ("${header.linkname ?? ''}")`);
        });
        const source = path.join(root, target);
        const info = await lstat(source).catch(() => undefined);
        if (!info?.isFile())
          throw new ArchiveError(
            `hard link "${relative}" points to "${target}", which is not a file earlier in the archive`,
          );
        if (!isInside(await realpath(root), await realpath(source)))
          throw new ArchiveError(`hard link "${relative}" points outside the context`);
        await assertNoSymlinkOnPath(root, relative);
        await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
        await link(source, path.join(root, relative));
        entry.resume();
        break;
      }
      default:
        throw new ArchiveError(
          `entry "${relative}" is a ${header.type ?? 'special'} file; only files, directories and links are allowed`,
        );
    }
  }
}

async function unpackZip(buffer: Buffer, root: string, limits: ArchiveLimits): Promise<void> {
  const budget = new Budget(limits);
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(buffer, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true }, (error, file) => {
      if (error || !file)
        reject(new ArchiveError(`the zip archive cannot be read: ${error?.message ?? 'unknown error'}`));
      else resolve(file);
    }),
  );
  // yauzl may report a damaged entry on the zip object too, after we stopped reading;
  // kept listened to, so it can never become an uncaught exception.
  let zipError: Error | undefined;
  zip.on('error', (error: Error) => {
    zipError ??= error;
  });
  const nextEntry = (): Promise<yauzl.Entry | undefined> =>
    new Promise((resolve, reject) => {
      const cleanup = (): void => {
        zip.off('entry', onEntry);
        zip.off('end', onEnd);
        zip.off('error', onError);
      };
      const onEntry = (entry: yauzl.Entry): void => {
        cleanup();
        resolve(entry);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(undefined);
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      zip.on('entry', onEntry);
      zip.on('end', onEnd);
      zip.on('error', onError);
      zip.readEntry();
    });
  try {
    for (;;) {
      const entry = await nextEntry();
      if (zipError) throw zipError;
      if (!entry) break;
      const relative = safeEntryPath(entry.fileName);
      budget.entry(entry.fileName);
      if (relative === '') continue;
      // Unix mode bits live in the high half of the external attributes.
      const mode = (entry.externalFileAttributes >>> 16) & 0o177777;
      const type = mode & 0o170000;
      if (entry.fileName.endsWith('/') || type === 0o040000) {
        await assertNoSymlinkOnPath(root, `${relative}/x`);
        await mkdir(path.join(root, relative), { recursive: true });
        continue;
      }
      if (type !== 0 && type !== 0o100000)
        throw new ArchiveError(
          `entry "${relative}" is not a regular file or directory; zip uploads may not hold links or devices`,
        );
      const stream = await new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, opened) =>
          error || !opened ? reject(error ?? new Error('no stream')) : resolve(opened),
        ),
      );
      stream.on('error', () => undefined); // reported through the pipeline in writeFileEntry
      await writeFileEntry(root, relative, stream, mode & 0o777 ? mode : 0o644, budget);
    }
  } finally {
    zip.close();
  }
}

/** Unpacks into `root`, which must be a new empty directory; the caller removes it on error. */
export async function unpackArchive(
  archive: Buffer,
  root: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ArchiveFormat> {
  const format = detectFormat(archive.subarray(0, 512));
  await mkdir(root, { recursive: true });
  try {
    switch (format) {
      case 'tar':
        await unpackTar(Readable.from([archive]), root, limits);
        break;
      case 'tar.gz':
        await unpackTar(Readable.from([archive]).pipe(createGunzip()), root, limits);
        break;
      case 'zip':
        await unpackZip(archive, root, limits);
        break;
    }
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`the ${format} archive is damaged: ${(error as Error).message}`);
  }
  return format;
}
