import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';

// Builds build-context archives from files for tests: tar (tar-stream), tar.gz (zlib) and
// zip (a small writer below, since yauzl only reads). Hostile shapes are built on purpose:
// names with `..`, links, devices, sizes that lie.

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
}

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const collected = buffer(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = {
      name: entry.name,
      type,
      mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(0),
      ...(entry.linkname !== undefined ? { linkname: entry.linkname } : {}),
      ...(type === 'character-device' || type === 'block-device' ? { devmajor: 1, devminor: 3 } : {}),
    };
    if (type === 'file') pack.entry(header, Buffer.from(entry.content ?? ''));
    else pack.entry(header);
  }
  pack.finalize();
  return collected;
}

export function gzip(data: Buffer): Buffer {
  return zlib.gzipSync(data);
}

/**
 * Rewrites the size field of the tar header at `offset` (a multiple of 512) and fixes its
 * checksum, so the header lies about how many bytes follow.
 */
export function withTarSize(tar: Buffer, offset: number, size: number): Buffer {
  const copy = Buffer.from(tar);
  copy.write(size.toString(8).padStart(11, '0') + '\0', offset + 124, 12, 'ascii');
  copy.fill(' ', offset + 148, offset + 156);
  let sum = 0;
  for (let i = offset; i < offset + 512; i++) sum += copy[i] ?? 0;
  copy.write(sum.toString(8).padStart(6, '0') + '\0 ', offset + 148, 8, 'ascii');
  return copy;
}

// --- zip ---------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib.crc32 arrived in Node 20.15; the table version covers older 20.x. */
export function crc32(data: Buffer): number {
  const native = (zlib as { crc32?: (data: Buffer) => number }).crc32;
  if (typeof native === 'function') return native(data) >>> 0;
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  content?: string | Buffer;
  /** Unix st_mode (type and permission bits), stored in the high half of the external attributes. */
  unixMode?: number;
  method?: 'store' | 'deflate';
  /** Claim this uncompressed size in the headers instead of the real one. */
  declaredSize?: number;
}

export function zipOf(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const raw = Buffer.from(entry.content ?? '');
    const isDirectory = entry.name.endsWith('/');
    const method = entry.method ?? (isDirectory || raw.length === 0 ? 'store' : 'deflate');
    const data = method === 'deflate' ? zlib.deflateRawSync(raw) : raw;
    const crc = crc32(raw);
    const size = entry.declaredSize ?? raw.length;
    const mode = entry.unixMode ?? (isDirectory ? 0o040755 : 0o100644);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method === 'deflate' ? 8 : 0, 8);
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method === 'deflate' ? 8 : 0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((((mode & 0xffff) << 16) | (isDirectory ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, directory, end]);
}

// --- from a directory ---------------------------------------------------------------

export interface FileOnDisk {
  relative: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  content?: Buffer;
  linkname?: string;
}

/** Every path under `root`, sorted, with its content or link target. */
export async function filesUnder(root: string): Promise<FileOnDisk[]> {
  const result: FileOnDisk[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const absolute = path.join(dir, name);
      const relative = path.relative(root, absolute).split(path.sep).join('/');
      const info = await lstat(absolute);
      if (info.isDirectory()) {
        result.push({ relative, type: 'directory', mode: info.mode & 0o7777 });
        await walk(absolute);
      } else if (info.isSymbolicLink()) {
        result.push({ relative, type: 'symlink', mode: 0o777, linkname: await readlink(absolute) });
      } else {
        result.push({ relative, type: 'file', mode: info.mode & 0o7777, content: await readFile(absolute) });
      }
    }
  };
  await walk(root);
  return result;
}

export async function tarOfDirectory(root: string): Promise<Buffer> {
  return tarOf(
    (await filesUnder(root)).map((file) =>
      file.type === 'file'
        ? { name: file.relative, content: file.content ?? Buffer.alloc(0), mode: file.mode }
        : file.type === 'directory'
          ? { name: `${file.relative}/`, type: 'directory' as const, mode: file.mode }
          : { name: file.relative, type: 'symlink' as const, linkname: file.linkname ?? '' },
    ),
  );
}

export async function zipOfDirectory(root: string): Promise<Buffer> {
  return zipOf(
    (await filesUnder(root))
      .filter((file) => file.type !== 'symlink')
      .map((file) =>
        file.type === 'directory'
          ? { name: `${file.relative}/`, unixMode: 0o040000 | file.mode }
          : { name: file.relative, content: file.content ?? Buffer.alloc(0), unixMode: 0o100000 | file.mode },
      ),
  );
}

/** A comparable picture of a directory tree: path → type, mode, content or link. */
export async function snapshot(
  root: string,
  skip: (relative: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const picture: Record<string, string> = {};
  for (const file of await filesUnder(root).catch(() => [])) {
    if (skip(file.relative)) continue;
    picture[file.relative] =
      file.type === 'file'
        ? `file ${file.mode.toString(8)} ${file.content?.toString('base64')}`
        : file.type === 'symlink'
          ? `symlink -> ${file.linkname}`
          : `dir ${file.mode.toString(8)}`;
  }
  return picture;
}
