import type { OperatorSettings } from '../config/settings.js';
import { ManifestError, sortIssues, type ManifestIssue } from '../model/manifest-error.js';
import { formatPath } from '../model/field-path.js';
import type { ParsedDocument } from '../model/parse.js';
import type { ImageObject, ProjectObject } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import { builtImageRepository, describeImageSource, imageRefusal, sourceOfProjectImage, type ImageSource } from './image-admission.js';
import { leaseHostnameIssues } from './hostname-admission.js';
import { checkLeaseAgainstBounds, type AdmissionIssue } from './lease-admission.js';

// Rules checked before a batch of documents is stored, against the store as it will be
// after the batch: names declared once, hostnames owned by one project, and the
// operator's rules (lease bounds and caps, the image allowlist). Every problem of the
// batch is reported at once, each at the file, line and column of the field it is about.

export type AdmissionSettings = Pick<OperatorSettings, 'leaseBounds' | 'maxActiveLeases' | 'imageAllowlist' | 'instance'>;

export function checkAdmission(store: ObjectStore, documents: ParsedDocument[], settings: AdmissionSettings): void {
  const issues = [...uniquenessIssues(store, documents), ...leaseHostIssues(store, documents), ...operatorRuleIssues(store, documents, settings)];
  if (issues.length > 0) throw new ManifestError(sortIssues(issues));
}

function issueAt(doc: ParsedDocument, issue: AdmissionIssue): ManifestIssue {
  return { ...doc.position(issue.path), file: doc.source.file, path: formatPath(issue.path), message: issue.message };
}

function uniquenessIssues(store: ObjectStore, documents: ParsedDocument[]): ManifestIssue[] {
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
      issues.push(issueAt(doc, { path: ['metadata', 'name'], message: `${key} is declared twice in this apply (also at ${earlier.source.file}:${at.line}:${at.column})` }));
    }
    seen.set(key, doc);
    if (doc.object.kind !== 'Project') continue;
    doc.object.spec.hostnames.forEach((host, index) => {
      const owner = hostOwners.get(host);
      if (owner && owner.project !== doc.object.metadata.name) {
        issues.push(
          issueAt(doc, { path: ['spec', 'hostnames', index], message: `hostname "${host}" is already routed to project "${owner.project}"; hostnames must be unique across projects` }),
        );
      } else {
        hostOwners.set(host, { project: doc.object.metadata.name, document: doc });
      }
    });
  }
  return issues;
}

function leaseHostIssues(store: ObjectStore, documents: ParsedDocument[]): ManifestIssue[] {
  const projects = new Map(store.list('Project').map((project) => [project.metadata.name, project]));
  const leases = new Map(store.list('Lease').map((lease) => [lease.metadata.name, lease]));
  for (const { object } of documents) {
    if (object.kind === 'Project') projects.set(object.metadata.name, object);
    // A manifest carries no status: an applied lease keeps the stored one (ended or not).
    const status = object.kind === 'Lease' ? leases.get(object.metadata.name)?.status : undefined;
    if (object.kind === 'Lease') leases.set(object.metadata.name, { ...object, ...(status ? { status } : {}) });
  }
  const documentOf = new Map(documents.map((doc) => [doc.object, doc]));
  return leaseHostnameIssues({ projects: [...projects.values()], leases: [...leases.values()] }, documents.map((doc) => doc.object)).flatMap((issue) => {
    const doc = documentOf.get(issue.object);
    return doc ? [issueAt(doc, issue)] : [];
  });
}

/** Objects by name as they will be after the batch: the batch's version wins over the store's. */
class BatchView {
  private readonly projects = new Map<string, ProjectObject>();
  private readonly images = new Map<string, ImageObject>();

  constructor(
    private readonly store: ObjectStore,
    documents: ParsedDocument[],
  ) {
    for (const { object } of documents) {
      if (object.kind === 'Project') this.projects.set(object.metadata.name, object);
      if (object.kind === 'Image') this.images.set(object.metadata.name, object);
    }
  }

  project = (name: string): ProjectObject | undefined => this.projects.get(name) ?? this.store.get('Project', name);

  image = (name: string): ImageObject | undefined => this.images.get(name) ?? this.store.get('Image', name);
}

function operatorRuleIssues(store: ObjectStore, documents: ParsedDocument[], settings: AdmissionSettings): ManifestIssue[] {
  const view = new BatchView(store, documents);
  const issues: ManifestIssue[] = [];
  // Leases this batch creates count against the caps of the ones after them.
  const allowlist = settings.imageAllowlist;
  for (const doc of documents) {
    const object = doc.object;
    switch (object.kind) {
      case 'Project': {
        const source = sourceOfProjectImage(object.spec.image, view.image, settings.instance);
        const refusal = imageRefusal(source.reference, allowlist);
        if (refusal) issues.push(issueAt(doc, { path: ['spec', 'image'], message: `${describeImageSource(source)} is not allowed: ${refusal}` }));
        break;
      }
      case 'Image': {
        const own: ImageSource = object.spec.ref !== undefined ? { reference: object.spec.ref } : { reference: builtImageRepository(settings.instance, object.metadata.name), via: 'where this Image is built' };
        const refusal = imageRefusal(own.reference, allowlist);
        if (refusal) issues.push(issueAt(doc, { path: ['spec', object.spec.ref !== undefined ? 'ref' : 'build'], message: `${describeImageSource(own)} is not allowed: ${refusal}` }));
        break;
      }
      case 'Lease': {
        issues.push(...checkLeaseAgainstBounds(object, settings).map((issue) => issueAt(doc, issue)));
        const project = view.project(object.spec.project);
        if (project) {
          const source = sourceOfProjectImage(project.spec.image, view.image, settings.instance);
          const refusal = imageRefusal(source.reference, allowlist);
          if (refusal) {
            issues.push(issueAt(doc, { path: ['spec', 'project'], message: `project "${project.metadata.name}" runs ${describeImageSource(source)}, which is not allowed: ${refusal}` }));
          }
        }
        break;
      }
    }
  }
  return issues;
}
