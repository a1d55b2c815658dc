import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { unpackArchive, type ArchiveLimits } from './archive.js';
import { contextDigest, listContext, type ContextOptions } from './context.js';

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

  /**
   * Unpacks an uploaded archive (checked entry by entry) and returns its digest. `options`
   * names the Image's Dockerfile, which the digest counts even where .dockerignore leaves
   * it out (it is sent to the build all the same).
   */
  async ingestArchive(archive: Buffer, options: ContextOptions = {}): Promise<string> {
    const staging = await this.staging();
    try {
      await unpackArchive(archive, staging, this.limits);
      return await this.commit(staging, options);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Copies what a build of a local directory (a manifest's context) sees, and returns its
   * digest: what .dockerignore leaves out (a Node app's node_modules, say) is not copied.
   */
  async ingestDirectory(dir: string, options: ContextOptions = {}): Promise<string> {
    const entries = await listContext(dir, options);
    const staging = await this.staging();
    try {
      for (const entry of entries) {
        const destination = path.join(staging, entry.relative);
        await mkdir(entry.type === 'directory' ? destination : path.dirname(destination), {
          recursive: true,
          mode: 0o700,
        });
        // Links are copied as links, never followed: a context cannot pull in files from outside.
        if (entry.type === 'symlink') await symlink(entry.linkTarget ?? '', destination);
        else if (entry.type === 'file') await copyFile(path.join(dir, entry.relative), destination);
      }
      return await this.commit(staging, options);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async staging(): Promise<string> {
    const dir = path.join(this.root, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private async commit(staging: string, options: ContextOptions): Promise<string> {
    const digest = await contextDigest(staging, options);
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
