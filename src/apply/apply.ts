import { ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import type { Kind, LumaObject } from '../model/types.js';
import { CONTEXT_DIGEST_ANNOTATION } from '../images/context-store.js';
import type { ApplyResult, ObjectStore } from '../store/store.js';

// Applying manifests: parse and validate every document, check the rules that span
// objects (a hostname belongs to one project), and only then write. Any problem refuses
// the whole batch, so a refused apply changes nothing.

export interface ManifestFile {
  path: string;
  content: string;
}

export interface AppliedObject {
  kind: Kind;
  name: string;
  result: ApplyResult;
  object: LumaObject;
}

export function parseFiles(files: ManifestFile[]): ParsedDocument[] {
  const documents: ParsedDocument[] = [];
  const issues: ManifestIssue[] = [];
  for (const file of files) {
    try {
      documents.push(...parseManifests(file.content, file.path));
    } catch (error) {
      if (error instanceof ManifestError) issues.push(...error.issues);
      else throw error;
    }
  }
  if (issues.length > 0) throw new ManifestError(issues);
  return documents;
}

/** Cross-object rules, checked against the store as it will be after the batch. */
export function checkAdmission(store: ObjectStore, documents: ParsedDocument[]): void {
  const issues: ManifestIssue[] = [];
  const seen = new Map<string, ParsedDocument>();
  const hostOwners = new Map<string, { project: string; document?: ParsedDocument }>();
  const inBatch = new Set(documents.filter((doc) => doc.object.kind === 'Project').map((doc) => doc.object.metadata.name));
  for (const project of store.list('Project')) {
    if (inBatch.has(project.metadata.name)) continue;
    for (const host of project.spec.hostnames) hostOwners.set(host, { project: project.metadata.name });
  }

  for (const doc of documents) {
    const key = `${doc.object.kind}/${doc.object.metadata.name}`;
    const earlier = seen.get(key);
    if (earlier) {
      const at = earlier.position(['metadata', 'name']);
      issues.push({
        ...doc.position(['metadata', 'name']),
        file: doc.source.file,
        path: 'metadata.name',
        message: `${key} is declared twice in this apply (also at ${earlier.source.file}:${at.line}:${at.column})`,
      });
    }
    seen.set(key, doc);
    if (doc.object.kind !== 'Project') continue;
    doc.object.spec.hostnames.forEach((host, index) => {
      const owner = hostOwners.get(host);
      if (owner && owner.project !== doc.object.metadata.name) {
        issues.push({
          ...doc.position(['spec', 'hostnames', index]),
          file: doc.source.file,
          path: `spec.hostnames[${index}]`,
          message: `hostname "${host}" is already routed to project "${owner.project}"; hostnames must be unique across projects`,
        });
      } else {
        hostOwners.set(host, { project: doc.object.metadata.name, document: doc });
      }
    });
  }
  if (issues.length > 0) throw new ManifestError(issues);
}

/**
 * Finds the stored build context of an Image document (by upload or from a directory next
 * to its manifest) and returns its digest; throws a ManifestError when it cannot.
 */
export type ContextResolver = (document: ParsedDocument) => Promise<string>;

export interface ApplyOptions {
  dryRun?: boolean;
  resolveContext?: ContextResolver;
}

/** Images built from a context carry the digest of the files they were applied with. */
async function attachContexts(documents: ParsedDocument[], resolve: ContextResolver | undefined): Promise<void> {
  const issues: ManifestIssue[] = [];
  for (const doc of documents) {
    if (doc.object.kind !== 'Image' || !doc.object.spec.build) continue;
    if (!resolve) {
      issues.push({ ...doc.position(['spec', 'build', 'context']), file: doc.source.file, path: 'spec.build.context', message: 'build contexts cannot be applied this way; use `luma apply -f`, which uploads them' });
      continue;
    }
    try {
      const digest = await resolve(doc);
      doc.object.metadata.annotations = { ...doc.object.metadata.annotations, [CONTEXT_DIGEST_ANNOTATION]: digest };
    } catch (error) {
      if (error instanceof ManifestError) issues.push(...error.issues);
      else issues.push({ ...doc.position(['spec', 'build', 'context']), file: doc.source.file, path: 'spec.build.context', message: (error as Error).message });
    }
  }
  if (issues.length > 0) throw new ManifestError(issues);
}

export async function applyDocuments(store: ObjectStore, documents: ParsedDocument[], options: ApplyOptions = {}): Promise<AppliedObject[]> {
  checkAdmission(store, documents);
  await attachContexts(documents, options.resolveContext);
  const dryRun = options.dryRun ?? false;
  // Preconditions are checked for all before any write, so a conflict changes nothing.
  if (!dryRun) {
    for (const doc of documents) {
      const resourceVersion = doc.object.metadata.resourceVersion;
      if (resourceVersion !== undefined) await store.apply(doc.object, { resourceVersion, dryRun: true });
    }
  }
  const applied: AppliedObject[] = [];
  for (const doc of documents) {
    const resourceVersion = doc.object.metadata.resourceVersion;
    const { object, result } = await store.apply(doc.object, { dryRun, ...(resourceVersion !== undefined ? { resourceVersion } : {}) });
    applied.push({ kind: object.kind, name: object.metadata.name, result, object });
  }
  return applied;
}
