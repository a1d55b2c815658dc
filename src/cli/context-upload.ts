import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { unpackArchive } from '../images/archive.js';
import { contextDigest, listContext, packContext, type ContextOptions } from '../images/context.js';
import { ManifestError, parseManifests } from '../model/parse.js';
import type { ApiClient } from './api-client.js';
import { CliError, nameTooLarge } from './api-client.js';

// `luma apply -f` uploads the build context of every Image it applies, so applying to a
// Luma on another machine works like applying to a local one. A dry run (and `luma diff`)
// uploads nothing: it computes each context's digest here, which is all the server needs
// to tell whether the context changed.

export interface UploadedContext {
  file: string;
  document: number;
  digest: string;
}

async function archiveOf(location: string, options: ContextOptions): Promise<{ body: Buffer; type: string }> {
  const info = await stat(location).catch(() => undefined);
  if (!info) throw new CliError(`the build context ${location} does not exist`);
  // The Image's Dockerfile travels even when .dockerignore leaves it out, as `docker build` sends it.
  if (info.isDirectory()) return { body: await packed(location, options), type: 'application/gzip' };
  return { body: await readFile(location), type: 'application/octet-stream' };
}

/** The directory as a gzipped tar; a file that cannot be read is an error naming the context, not a crash. */
async function packed(location: string, options: ContextOptions): Promise<Buffer> {
  const gzip = createGzip();
  try {
    const [body] = await Promise.all([buffer(gzip), pipeline(packContext(location, options), gzip)]);
    return body;
  } catch (error) {
    throw new CliError(`the build context ${location}: ${(error as Error).message}`);
  }
}

/** The digest the server would give this context, computed without sending it. */
async function localDigest(location: string, options: ContextOptions): Promise<string> {
  const info = await stat(location).catch(() => undefined);
  if (!info) throw new CliError(`the build context ${location} does not exist`);
  if (info.isDirectory()) {
    await listContext(location, options);
    return contextDigest(location, options);
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'luma-context-'));
  try {
    await unpackArchive(await readFile(location), scratch);
    return await contextDigest(scratch, options);
  } catch (error) {
    throw new CliError(`the build context ${location}: ${(error as Error).message}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Uploads each Image's context (or, with `upload: false`, only computes its digest). */
export async function uploadContexts(
  api: ApiClient,
  files: Array<{ path: string; content: string }>,
  options: { upload: boolean } = { upload: true },
): Promise<UploadedContext[]> {
  const uploads: UploadedContext[] = [];
  for (const file of files) {
    let documents;
    try {
      documents = parseManifests(file.content, file.path);
    } catch (error) {
      if (error instanceof ManifestError) continue; // the server reports it with the rest
      throw error;
    }
    for (const doc of documents) {
      if (doc.object.kind !== 'Image' || !doc.object.spec.build) continue;
      const context = doc.object.spec.build.context;
      if (context.startsWith('upload:')) continue;
      const base = file.path === '<stdin>' ? process.cwd() : path.dirname(file.path);
      const location = path.resolve(base, context);
      let digest: string;
      const dockerfile = doc.object.spec.build.dockerfile;
      const contextOptions: ContextOptions = dockerfile ? { dockerfile } : {};
      if (options.upload) {
        const { body, type } = await archiveOf(location, contextOptions);
        digest = (
          await api
            .uploadContext(body, type, dockerfile)
            .catch(nameTooLarge(`the build context ${location} (${body.length} bytes packed)`))
        ).digest;
      } else digest = await localDigest(location, contextOptions);
      uploads.push({ file: file.path, document: doc.source.document, digest });
    }
  }
  return uploads;
}
