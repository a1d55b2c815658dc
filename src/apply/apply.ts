import { ManifestError, parseManifests, type ManifestIssue, type ParsedDocument } from '../model/parse.js';
import type { Kind, LumaObject } from '../model/types.js';
import { CONTEXT_DIGEST_ANNOTATION } from '../images/context-store.js';
import type { ApplyResult, ObjectStore } from '../store/store.js';
import { checkAdmission, type AdmissionSettings } from './admission.js';
import type { AdmissionIndex } from './admission-index.js';
import { mapLimit } from '../util/map-limit.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { sealSecret } from '../secrets/seal.js';

// Applying manifests: parse and validate every document, check the rules that span
// objects and the operator's rules (admission.ts), and only then write. Any problem refuses
// the whole batch, so a refused apply changes nothing.

/** Store writes of one apply in flight at once. */
export const APPLY_WRITES_IN_FLIGHT = 64;

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

/**
 * Finds the stored build context of an Image document (by upload or from a directory next
 * to its manifest) and returns its digest; throws a ManifestError when it cannot.
 */
export type ContextResolver = (document: ParsedDocument) => Promise<string>;

export interface ApplyOptions {
  /** The operator's rules every write must pass; required, so that no write path can skip them. */
  settings: AdmissionSettings;
  dryRun?: boolean;
  resolveContext?: ContextResolver;
  /** An index of the store kept current by its caller across many applies; without it, each apply builds one. */
  index?: AdmissionIndex;
  /**
   * Seals Secrets' values before they are stored. Without it a Secret is refused: the
   * watched directory holds references to secrets, never their values (docs/secrets.md).
   */
  secrets?: SecretBox;
}

/** Each Secret's values sealed in place; a Secret where none can be sealed is refused. */
function sealSecrets(store: ObjectStore, documents: ParsedDocument[], box: SecretBox | undefined): void {
  const issues: ManifestIssue[] = [];
  for (const doc of documents) {
    if (doc.object.kind !== 'Secret') continue;
    if (!box) {
      issues.push({
        ...doc.position(['kind']),
        file: doc.source.file,
        path: 'kind',
        message: SECRET_REFUSED,
      });
      continue;
    }
    doc.object = sealSecret(doc.object, box, store.get('Secret', doc.object.metadata.name));
  }
  if (issues.length > 0) throw new ManifestError(issues);
}

export const SECRET_REFUSED =
  'a Secret is not read from the watched directory, whose files live in Git: create it with `luma create secret generic NAME --from-literal=KEY=VALUE` and reference it with valueFrom.secretKeyRef (docs/secrets.md)';

/** Images built from a context carry the digest of the files they were applied with. */
async function attachContexts(documents: ParsedDocument[], resolve: ContextResolver | undefined): Promise<void> {
  const issues: ManifestIssue[] = [];
  for (const doc of documents) {
    if (doc.object.kind !== 'Image' || !doc.object.spec.build) continue;
    if (!resolve) {
      issues.push({
        ...doc.position(['spec', 'build', 'context']),
        file: doc.source.file,
        path: 'spec.build.context',
        message: 'build contexts cannot be applied this way; use `luma apply -f`, which uploads them',
      });
      continue;
    }
    try {
      const digest = await resolve(doc);
      doc.object.metadata.annotations = { ...doc.object.metadata.annotations, [CONTEXT_DIGEST_ANNOTATION]: digest };
    } catch (error) {
      if (error instanceof ManifestError) issues.push(...error.issues);
      else
        issues.push({
          ...doc.position(['spec', 'build', 'context']),
          file: doc.source.file,
          path: 'spec.build.context',
          message: (error as Error).message,
        });
    }
  }
  if (issues.length > 0) throw new ManifestError(issues);
}

export async function applyDocuments(
  store: ObjectStore,
  documents: ParsedDocument[],
  options: ApplyOptions,
): Promise<AppliedObject[]> {
  checkAdmission(options.index ?? store, documents, options.settings);
  sealSecrets(store, documents, options.secrets);
  await attachContexts(documents, options.resolveContext);
  const dryRun = options.dryRun ?? false;
  // Preconditions are checked for all before any write, so a conflict changes nothing.
  if (!dryRun) {
    for (const doc of documents) {
      const resourceVersion = doc.object.metadata.resourceVersion;
      if (resourceVersion !== undefined) await store.apply(doc.object, { resourceVersion, dryRun: true });
    }
  }
  // Many at a time: each write waits for its own file fsync, and writes that finish
  // together share their directory's (util/directory-sync.ts), so their fsyncs overlap. One
  // by one, 1,000 projects took 54 s on a busy 2-core machine (bench/scale). Not all at
  // once either: 10,000 writes in flight kept 10,000 serialized objects, promise chains
  // and file handles alive together, and the young generation's collections grew with
  // them (bench/scale --projects 10000).
  return mapLimit(documents, APPLY_WRITES_IN_FLIGHT, async (doc) => {
    const resourceVersion = doc.object.metadata.resourceVersion;
    const { object, result } = await store.apply(doc.object, { dryRun, resourceVersion });
    return { kind: object.kind, name: object.metadata.name, result, object };
  });
}
