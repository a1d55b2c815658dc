import type { ImageObject, LeaseObject, LumaObject, ProjectObject } from '../model/types.js';
import type { ObjectStore, WatchEvent } from '../store/store.js';

// What admission needs from the store, in maps: objects by name, the projects declaring
// each hostname, the leases of each project. Checking a file then costs what the file
// declares, not what the store holds. One apply builds it from the store; a pass of the
// watched directory builds one and keeps it current from the store's watch, instead of
// listing (and copying) every stored project for each of a thousand files.

const INDEXED_KINDS = ['Project', 'Image', 'Lease'] as const;

export class AdmissionIndex {
  private readonly projects = new Map<string, ProjectObject>();
  private readonly images = new Map<string, ImageObject>();
  private readonly leases = new Map<string, LeaseObject>();
  private readonly hostOwners = new Map<string, Set<string>>();
  private readonly projectLeases = new Map<string, Set<string>>();

  static fromStore(store: ObjectStore): AdmissionIndex {
    const index = new AdmissionIndex();
    for (const object of [...store.list('Project'), ...store.list('Image'), ...store.list('Lease')]) index.put(object);
    return index;
  }

  /**
   * Kept current from the store's watch until `stop`: its events are delivered
   * synchronously after each write, so every read sees every write made so far. Built one
   * object at a time, calling `turn` between them, so that copying a large store does not
   * hold the event loop (a write meanwhile reaches the index through the watch).
   */
  static async following(
    store: ObjectStore,
    turn: () => Promise<void>,
  ): Promise<{ index: AdmissionIndex; stop: () => void }> {
    const index = new AdmissionIndex();
    const stop = store.watch((event) => index.observe(event));
    try {
      for (const kind of INDEXED_KINDS) {
        for (const name of store.names(kind)) {
          await turn();
          const object = store.get(kind, name);
          if (object) index.put(object);
        }
      }
    } catch (error) {
      stop();
      throw error;
    }
    return { index, stop };
  }

  project(name: string): ProjectObject | undefined {
    return this.projects.get(name);
  }

  image(name: string): ImageObject | undefined {
    return this.images.get(name);
  }

  lease(name: string): LeaseObject | undefined {
    return this.leases.get(name);
  }

  /** The stored projects declaring `host`, sorted by name (more than one only if the store was written past admission). */
  projectsDeclaring(host: string): string[] {
    return [...(this.hostOwners.get(host) ?? [])].sort();
  }

  leasesOf(project: string): LeaseObject[] {
    return [...(this.projectLeases.get(project) ?? [])].flatMap((name) => this.leases.get(name) ?? []);
  }

  observe(event: WatchEvent): void {
    if (event.type === 'DELETED') this.remove(event.object);
    else this.put(event.object);
  }

  private put(object: LumaObject): void {
    this.remove(object);
    const name = object.metadata.name;
    if (object.kind === 'Project') {
      this.projects.set(name, object);
      for (const host of object.spec.hostnames) addTo(this.hostOwners, host, name);
    } else if (object.kind === 'Image') {
      this.images.set(name, object);
    } else if (object.kind === 'Lease') {
      this.leases.set(name, object);
      addTo(this.projectLeases, object.spec.project, name);
    }
  }

  private remove(object: LumaObject): void {
    const name = object.metadata.name;
    if (object.kind === 'Project') {
      for (const host of this.projects.get(name)?.spec.hostnames ?? []) removeFrom(this.hostOwners, host, name);
      this.projects.delete(name);
    } else if (object.kind === 'Image') {
      this.images.delete(name);
    } else if (object.kind === 'Lease') {
      const project = this.leases.get(name)?.spec.project;
      if (project !== undefined) removeFrom(this.projectLeases, project, name);
      this.leases.delete(name);
    }
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

function removeFrom(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  set?.delete(value);
  if (set?.size === 0) map.delete(key);
}
