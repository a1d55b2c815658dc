import type { OwnerRef } from '../runtime/labels.js';
import type { ContainerFilter, ManagedContainer } from '../runtime/runtime.js';

// What the resync's one container list saw, handed to the reconciles the resync queues:
// a full resync of 10,000 projects then costs one Docker call, not one list per project
// (and per pool). A sighting of an owner is used only while nothing can have changed its
// containers since the list was asked for: a Docker event about the owner, or a change
// made through the controller's runtime (sighting-runtime.ts), makes the reconcile ask
// the engine again. Each list, even an idle resync's, replaces the last one, so what a
// reconcile is handed is never older than one resync interval plus its wait in the queue.

/** What a reconcile was handed: the containers of one owner as last listed, or undefined to ask the engine. */
export interface ObservedContainers {
  list(filter: ContainerFilter & { kind: OwnerRef['kind']; name: string }): ManagedContainer[] | undefined;
}

interface Listing {
  /** The sequence number when the list was asked for: changes after it may be missing from it. */
  seq: number;
  byOwner: Map<string, ManagedContainer[]>;
}

const ownerKey = (kind: string, name: string): string => `${kind}/${name}`;

/** The owner a work-queue key reconciles: `Pool/x` lists the containers of `Project/x`. */
function ownerOfQueueKey(key: string): string {
  return key.startsWith('Pool/') ? ownerKey('Project', key.slice('Pool/'.length)) : key;
}

export class ContainerSightings {
  private seq = 0;
  private latest: Listing | undefined;
  /** Per owner key, the sequence number of the last change that may have touched its containers. */
  private readonly touched = new Map<string, number>();
  /** A change to a container of no known owner: every sighting before it is doubtful. */
  private everythingTouchedAt = -1;
  private readonly ownerById = new Map<string, string>();
  /** Work-queue keys the resync queued with the latest listing, each taken by its next reconcile. */
  private readonly handed = new Set<string>();

  /** Called just before the list is asked for; pass the result to record(). */
  beginList(): number {
    return ++this.seq;
  }

  /** The list asked for at `seq` answered: it replaces an older one. */
  record(seq: number, containers: readonly ManagedContainer[]): void {
    if (this.latest && this.latest.seq > seq) return;
    const byOwner = new Map<string, ManagedContainer[]>();
    this.ownerById.clear();
    for (const container of containers) {
      const key = ownerKey(container.owner.kind, container.owner.name);
      this.ownerById.set(container.id, key);
      const list = byOwner.get(key);
      if (list) list.push(container);
      else byOwner.set(key, [container]);
    }
    this.latest = { seq, byOwner };
    // Marks older than this listing are in it: only the later ones still matter.
    for (const [key, at] of this.touched) if (at < seq) this.touched.delete(key);
  }

  /** The list failed (the engine is away): reconciles ask the engine themselves, and see that it is. */
  lost(): void {
    this.latest = undefined;
    this.handed.clear();
  }

  /** Something happened to the owner's containers (a Docker event, a create). */
  touch(owner: Pick<OwnerRef, 'kind' | 'name'>): void {
    this.touched.set(ownerKey(owner.kind, owner.name), ++this.seq);
  }

  /** Something is done to this container: its owner's sighting is doubtful from now on. */
  touchContainer(id: string): void {
    const key = this.ownerById.get(id);
    if (key === undefined) this.everythingTouchedAt = ++this.seq;
    else this.touched.set(key, ++this.seq);
  }

  /** A container made since the listing: later calls on it touch its owner, not everything. */
  noteCreated(container: ManagedContainer): void {
    this.ownerById.set(container.id, ownerKey(container.owner.kind, container.owner.name));
    this.touch(container.owner);
  }

  /** The resync queued this key: its next reconcile may read the latest listing. */
  hand(queueKey: string): void {
    if (this.latest) this.handed.add(queueKey);
  }

  /** For the reconcile starting now: what it was handed, once; undefined when nothing was. */
  take(queueKey: string): ObservedContainers | undefined {
    if (!this.handed.delete(queueKey) || !this.latest) return undefined;
    const listing = this.latest;
    const owner = ownerOfQueueKey(queueKey);
    return {
      list: (filter) => {
        const key = ownerKey(filter.kind, filter.name);
        if (key !== owner || !this.usable(listing, key)) return undefined;
        const containers = listing.byOwner.get(key) ?? [];
        return filter.role === undefined ? [...containers] : containers.filter((c) => c.role === filter.role);
      },
    };
  }

  private usable(listing: Listing, key: string): boolean {
    if (this.latest !== listing) return false;
    return this.everythingTouchedAt < listing.seq && (this.touched.get(key) ?? -1) < listing.seq;
  }
}
