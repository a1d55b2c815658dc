import type { ParsedDocument } from '../model/parse.js';
import type { ImageObject, LeaseObject, ProjectObject } from '../model/types.js';
import type { AdmissionIndex } from './admission-index.js';
import type { HostnameView } from './hostname-admission.js';

// The store as it will be after a batch is written: the batch's objects over the stored
// ones (admission-index.ts). Admission judges every rule that spans objects against it.

export class BatchView implements HostnameView {
  private readonly projects = new Map<string, ProjectObject>();
  private readonly images = new Map<string, ImageObject>();
  private readonly leases = new Map<string, LeaseObject>();
  /** Hostnames the batch's projects declare, the first declarer of each. */
  private readonly batchHosts = new Map<string, string>();

  constructor(
    private readonly stored: AdmissionIndex,
    documents: readonly ParsedDocument[],
  ) {
    for (const { object } of documents) {
      const name = object.metadata.name;
      if (object.kind === 'Project') {
        this.projects.set(name, object);
        for (const host of object.spec.hostnames) if (!this.batchHosts.has(host)) this.batchHosts.set(host, name);
      }
      if (object.kind === 'Image') this.images.set(name, object);
      if (object.kind === 'Lease') {
        // A manifest carries no status: an applied lease keeps the stored one (ended or not).
        const status = stored.lease(name)?.status;
        this.leases.set(name, { ...object, ...(status ? { status } : {}) });
      }
    }
  }

  /** Whether the batch declares this project (its version replaces the stored one). */
  declaresProject(name: string): boolean {
    return this.projects.has(name);
  }

  project = (name: string): ProjectObject | undefined => this.projects.get(name) ?? this.stored.project(name);

  image = (name: string): ImageObject | undefined => this.images.get(name) ?? this.stored.image(name);

  lease = (name: string): LeaseObject | undefined => this.leases.get(name) ?? this.stored.lease(name);

  /** A stored project keeps its hostnames unless the batch declares it again. */
  storedProjectDeclaring(host: string): string | undefined {
    return this.stored.projectsDeclaring(host).find((name) => !this.projects.has(name));
  }

  projectDeclaring(host: string): string | undefined {
    return this.batchHosts.get(host) ?? this.storedProjectDeclaring(host);
  }

  leasesOf(project: string): LeaseObject[] {
    const stored = this.stored.leasesOf(project).filter((lease) => !this.leases.has(lease.metadata.name));
    const batch = [...this.leases.values()].filter((lease) => lease.spec.project === project);
    return [...stored, ...batch];
  }
}
