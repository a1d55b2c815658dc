import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { unpackArchive, type ArchiveLimits } from './archive.js';
import { contextDigest, listContext } from './context.js';

// Build contexts kept under the state directory, one folder per digest, so a rebuild (or
// a restart) needs no new upload and the same files are stored once.

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** Set on an Image by apply: the digest of the build context it was applied with. */
export const CONTEXT_DIGEST_ANNOTATION = 'luma.dev/context-digest';

const STAGING_PREFIX = '.staging-';

export class ContextStore {
  constructor(
    private readonly root: string,
    private readonly limits: ArchiveLimits,
  ) {}

  /**
   * Creates the store's directory and removes staging folders that a crash left behind
   * (an upload or copy killed half-way never committed). Called once at start, before any
   * upload: from then on a refused upload leaves the state directory exactly as it was.
   */
  async prepare(): Promise<this> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.root)) {
      if (entry.startsWith(STAGING_PREFIX)) await rm(path.join(this.root, entry), { recursive: true, force: true });
    }
    return this;
  }

  directoryOf(digest: string): string {
    if (!DIGEST_PATTERN.test(digest)) throw new Error(`"${digest}" is not a context digest`);
    return path.join(this.root, digest.slice('sha256:'.length));
  }

  async has(digest: string): Promise<boolean> {
    return (await stat(this.directoryOf(digest)).catch(() => undefined))?.isDirectory() ?? false;
  }

  /** Unpacks an uploaded archive (checked entry by entry) and returns its digest. */
  async ingestArchive(archive: Buffer): Promise<string> {
    const staging = await this.staging();
    try {
      await unpackArchive(archive, staging, this.limits);
      return await this.commit(staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Copies a local directory (a manifest's context) in and returns its digest. */
  async ingestDirectory(dir: string): Promise<string> {
    await listContext(dir);
    const staging = await this.staging();
    try {
      // Links are copied as links, never followed: a context cannot pull in files from outside.
      await cp(dir, staging, { recursive: true, verbatimSymlinks: true, dereference: false });
      return await this.commit(staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async staging(): Promise<string> {
    const dir = path.join(this.root, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private async commit(staging: string): Promise<string> {
    const digest = await contextDigest(staging);
    const target = this.directoryOf(digest);
    if (!(await this.has(digest))) {
      await rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
        // Another upload of the same files won the race: theirs is identical.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    }
    return digest;
  }
}
