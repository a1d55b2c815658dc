import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DIGEST_PATTERN, type ContextStore } from '../images/context-store.js';
import { ManifestError, type ParsedDocument } from '../model/parse.js';
import type { ContextResolver } from './apply.js';

// Where an Image's build context comes from: an archive uploaded before the apply (the
// CLI does this), named `upload:sha256:…` in the manifest or handed over with the apply,
// or a directory or archive next to the manifest when Luma reads manifests from disk.

const UPLOAD_PREFIX = 'upload:';

function contextIssue(doc: ParsedDocument, message: string): ManifestError {
  return new ManifestError([
    { ...doc.position(['spec', 'build', 'context']), file: doc.source.file, path: 'spec.build.context', message },
  ]);
}

function declaredBuild(doc: ParsedDocument): { context: string; dockerfile: string | undefined } {
  if (doc.object.kind !== 'Image' || !doc.object.spec.build) throw new Error('not an Image built from a context');
  return { context: doc.object.spec.build.context, dockerfile: doc.object.spec.build.dockerfile };
}

function declaredContext(doc: ParsedDocument): string {
  return declaredBuild(doc).context;
}

async function uploaded(contexts: ContextStore, doc: ParsedDocument, digest: string, dryRun: boolean): Promise<string> {
  if (!DIGEST_PATTERN.test(digest))
    throw contextIssue(doc, `"${digest}" is not a context digest (sha256:<64 hex digits>)`);
  // A dry run stores nothing, so it needs no files: the digest alone says whether the
  // context changed (the CLI computes it locally instead of uploading).
  if (dryRun) return digest;
  if (!(await contexts.has(digest).catch(() => false)))
    throw contextIssue(doc, `no uploaded context ${digest} is stored; upload it to POST /contexts first`);
  return digest;
}

/**
 * For applies through the API: contexts must have been uploaded; `uploads` maps
 * file#document to a digest. In a dry run a digest need not have been uploaded.
 */
export function uploadedContextResolver(
  contexts: ContextStore,
  uploads: Map<string, string>,
  options: { dryRun?: boolean } = {},
): ContextResolver {
  const dryRun = options.dryRun ?? false;
  return async (doc) => {
    const context = declaredContext(doc);
    if (context.startsWith(UPLOAD_PREFIX)) return uploaded(contexts, doc, context.slice(UPLOAD_PREFIX.length), dryRun);
    const digest = uploads.get(`${doc.source.file}#${doc.source.document}`);
    if (!digest)
      throw contextIssue(
        doc,
        `the context "${context}" was not uploaded with this apply; use \`luma apply -f\`, which uploads it, or upload an archive to POST /contexts and write context: upload:sha256:…`,
      );
    return uploaded(contexts, doc, digest, dryRun);
  };
}

/** For manifests read from disk by Luma itself: the context is resolved next to the manifest file. */
export function localContextResolver(contexts: ContextStore): ContextResolver {
  return async (doc) => {
    const { context, dockerfile } = declaredBuild(doc);
    if (context.startsWith(UPLOAD_PREFIX)) return uploaded(contexts, doc, context.slice(UPLOAD_PREFIX.length), false);
    const location = path.resolve(path.dirname(doc.source.file), context);
    const info = await stat(location).catch(() => undefined);
    if (!info) throw contextIssue(doc, `the context ${location} does not exist`);
    const options = dockerfile ? { dockerfile } : {};
    try {
      return info.isDirectory()
        ? await contexts.ingestDirectory(location, options)
        : await contexts.ingestArchive(await readFile(location), options);
    } catch (error) {
      throw contextIssue(doc, (error as Error).message);
    }
  };
}
