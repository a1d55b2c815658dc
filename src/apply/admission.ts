import type { OperatorSettings } from '../config/settings.js';
import { ManifestError, sortIssues, type ManifestIssue } from '../model/manifest-error.js';
import { formatPath } from '../model/field-path.js';
import type { ParsedDocument } from '../model/parse.js';
import type { ObjectStore } from '../store/store.js';
import { AdmissionIndex } from './admission-index.js';
import { BatchView } from './batch-view.js';
import {
  builtImageRepository,
  describeImageSource,
  imageRefusal,
  sourceOfProjectImage,
  type ImageSource,
} from './image-admission.js';
import { leaseHostnameIssues } from './hostname-admission.js';
import { tagHostnameIssues } from './tag-hostname-admission.js';
import { checkLeaseAgainstBounds, type AdmissionIssue } from './lease-admission.js';

// Rules checked before a batch of documents is stored, against the store as it will be
// after the batch: names declared once, hostnames owned by one project, and the
// operator's rules (lease bounds and caps, the image allowlist). Every problem of the
// batch is reported at once, each at the file, line and column of the field it is about.

export type AdmissionSettings = Pick<
  OperatorSettings,
  'leaseBounds' | 'maxActiveLeases' | 'imageAllowlist' | 'instance'
>;

/** `stored` is the store, or an index of it that a caller keeps across many applies (a pass of the watched directory). */
export function checkAdmission(
  stored: ObjectStore | AdmissionIndex,
  documents: ParsedDocument[],
  settings: AdmissionSettings,
): void {
  const view = new BatchView(stored instanceof AdmissionIndex ? stored : AdmissionIndex.fromStore(stored), documents);
  const issues = [
    ...uniquenessIssues(view, documents),
    ...leaseHostIssues(view, documents),
    ...operatorRuleIssues(view, documents, settings),
  ];
  if (issues.length > 0) throw new ManifestError(sortIssues(issues));
}

function issueAt(doc: ParsedDocument, issue: AdmissionIssue): ManifestIssue {
  return { ...doc.position(issue.path), file: doc.source.file, path: formatPath(issue.path), message: issue.message };
}

function uniquenessIssues(view: BatchView, documents: ParsedDocument[]): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const seen = new Map<string, ParsedDocument>();
  // Hostnames taken by the batch's projects so far; a stored project's count unless the batch declares it again.
  const batchHosts = new Map<string, string>();
  for (const doc of documents) {
    const key = `${doc.object.kind}/${doc.object.metadata.name}`;
    const earlier = seen.get(key);
    if (earlier) {
      const at = earlier.position(['metadata', 'name']);
      issues.push(
        issueAt(doc, {
          path: ['metadata', 'name'],
          message: `${key} is declared twice in this apply (also at ${earlier.source.file}:${at.line}:${at.column})`,
        }),
      );
    }
    seen.set(key, doc);
    if (doc.object.kind !== 'Project') continue;
    const name = doc.object.metadata.name;
    doc.object.spec.hostnames.forEach((host, index) => {
      const owner = batchHosts.get(host) ?? view.storedProjectDeclaring(host);
      if (owner !== undefined && owner !== name) {
        issues.push(
          issueAt(doc, {
            path: ['spec', 'hostnames', index],
            message: `hostname "${host}" is already routed to project "${owner}"; hostnames must be unique across projects`,
          }),
        );
      } else {
        batchHosts.set(host, name);
      }
    });
  }
  return issues;
}

function leaseHostIssues(view: BatchView, documents: ParsedDocument[]): ManifestIssue[] {
  const documentOf = new Map(documents.map((doc) => [doc.object, doc]));
  const batch = documents.map((doc) => doc.object);
  return [...leaseHostnameIssues(view, batch), ...tagHostnameIssues(view, batch)].flatMap((issue) => {
    const doc = documentOf.get(issue.object);
    return doc ? [issueAt(doc, issue)] : [];
  });
}

function operatorRuleIssues(
  view: BatchView,
  documents: ParsedDocument[],
  settings: AdmissionSettings,
): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  // Leases this batch creates count against the caps of the ones after them.
  const allowlist = settings.imageAllowlist;
  for (const doc of documents) {
    const object = doc.object;
    switch (object.kind) {
      case 'Project': {
        const source = sourceOfProjectImage(object.spec.image, view.image, settings.instance);
        const refusal = imageRefusal(source.reference, allowlist);
        if (refusal)
          issues.push(
            issueAt(doc, {
              path: ['spec', 'image'],
              message: `${describeImageSource(source)} is not allowed: ${refusal}`,
            }),
          );
        break;
      }
      case 'Image': {
        const own: ImageSource =
          object.spec.ref !== undefined
            ? { reference: object.spec.ref }
            : {
                reference: builtImageRepository(settings.instance, object.metadata.name),
                via: 'where this Image is built',
              };
        const refusal = imageRefusal(own.reference, allowlist);
        if (refusal)
          issues.push(
            issueAt(doc, {
              path: ['spec', object.spec.ref !== undefined ? 'ref' : 'build'],
              message: `${describeImageSource(own)} is not allowed: ${refusal}`,
            }),
          );
        break;
      }
      case 'Lease': {
        issues.push(...checkLeaseAgainstBounds(object, settings).map((issue) => issueAt(doc, issue)));
        const project = view.project(object.spec.project);
        if (project) {
          const source = sourceOfProjectImage(project.spec.image, view.image, settings.instance);
          const refusal = imageRefusal(source.reference, allowlist);
          if (refusal) {
            issues.push(
              issueAt(doc, {
                path: ['spec', 'project'],
                message: `project "${project.metadata.name}" runs ${describeImageSource(source)}, which is not allowed: ${refusal}`,
              }),
            );
          }
        }
        break;
      }
    }
  }
  return issues;
}
