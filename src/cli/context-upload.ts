import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { packContext } from '../images/context.js';
import { ManifestError, parseManifests } from '../model/parse.js';
import type { ApiClient } from './api-client.js';
import { CliError } from './api-client.js';

// `luma apply -f` uploads the build context of every Image it applies, so applying to a
// Luma on another machine works like applying to a local one.

export interface UploadedContext {
  file: string;
  document: number;
  digest: string;
}

async function archiveOf(location: string): Promise<{ body: Buffer; type: string }> {
  const info = await stat(location).catch(() => undefined);
  if (!info) throw new CliError(`the build context ${location} does not exist`);
  if (info.isDirectory()) return { body: await buffer(packContext(location).pipe(createGzip())), type: 'application/gzip' };
  return { body: await readFile(location), type: 'application/octet-stream' };
}

export async function uploadContexts(api: ApiClient, files: Array<{ path: string; content: string }>): Promise<UploadedContext[]> {
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
      const { body, type } = await archiveOf(path.resolve(base, context));
      const { digest } = await api.uploadContext(body, type);
      uploads.push({ file: file.path, document: doc.source.document, digest });
    }
  }
  return uploads;
}
