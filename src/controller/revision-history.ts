import type { ProjectObject, RevisionObject } from '../model/types.js';
import type { EventRecorder } from '../events/event-log.js';
import type { ObjectStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import {
  revisionFor,
  revisionName,
  revisionStatus,
  revisionsOf,
  revisionsToPrune,
  runsSame,
  templateOf,
} from './revisions.js';

// A project's revisions in the store: recorded when what runs changes, marked Ready when
// one of their instances serves and Retired when a newer one took over, pruned past the
// history limit, and removed with their project. The store is the only state: a
// restarted controller finds the newest revision and carries on from its number.

export interface RevisionHistoryOptions {
  store: ObjectStore;
  logger: Logger;
  events: EventRecorder;
  /** Revisions kept per project (the operator's revisionHistoryLimit). */
  limit: number;
  now: () => number;
}

export class RevisionHistory {
  constructor(private readonly options: RevisionHistoryOptions) {}

  /**
   * This project's revisions, oldest first. Read by name (a project's revisions are all
   * named by revisionName), not by listing every revision: each reconcile asks, and copying
   * every project's revisions each time made the reconciles of 10,000 projects quadratic
   * (bench/scale --cpu-prof: half the controller's CPU with 1,000).
   */
  of(project: ProjectObject): RevisionObject[] {
    const { store } = this.options;
    const prefix = revisionName(project.metadata.name, 0).slice(0, -1);
    const candidates: RevisionObject[] = [];
    for (const name of store.names('Revision')) {
      if (!name.startsWith(prefix) || !/^[0-9]+$/.test(name.slice(prefix.length))) continue;
      const revision = store.get('Revision', name);
      if (revision) candidates.push(revision);
    }
    return revisionsOf(candidates, project);
  }

  /**
   * The revision of what the project runs now (`image` resolved), recorded first when
   * what runs changed. A revision of an earlier project of the same name is in the way
   * of the new numbering and goes.
   */
  async record(project: ProjectObject, image: string): Promise<RevisionObject> {
    const { store } = this.options;
    // The common case reads one object, not every revision of every project.
    const known = project.status?.revisions?.latestCreated;
    const latest = known === undefined ? undefined : store.get('Revision', known);
    if (latest && latest.spec.projectUid === project.metadata.uid && runsSame(latest, templateOf(project.spec), image))
      return latest;
    const { revision, created } = revisionFor(this.of(project), project, image);
    if (!created) return revision;
    const name = revision.metadata.name;
    if (store.has('Revision', name)) await store.delete('Revision', name);
    // No status yet: Pending until an instance of it serves.
    const stored = (await store.apply(revision)).object as RevisionObject;
    const message = `revision ${name} records ${image}${revision.spec.number > 1 ? ' (what runs changed)' : ''}`;
    this.options.events.record({ kind: 'Project', name: project.metadata.name }, 'Normal', 'RevisionCreated', message);
    this.options.logger.info({ project: project.metadata.name, revision: name, image }, 'revision recorded');
    return stored;
  }

  /** `serving` had an instance pass readiness and takes the traffic: older ready ones are Retired. */
  async served(project: ProjectObject, serving: string): Promise<void> {
    const { store, now } = this.options;
    for (const revision of this.of(project)) {
      const name = revision.metadata.name;
      const state = name === serving ? 'Ready' : revision.status?.phase === 'Ready' ? 'Retired' : undefined;
      if (state) await store.mutateStatus('Revision', name, (current) => revisionStatus(current.status, state, now()));
    }
  }

  /** Removes the revisions past the limit, never one named in `keep`. */
  async prune(project: ProjectObject, keep: ReadonlySet<string>): Promise<void> {
    const gone = revisionsToPrune(this.of(project), this.options.limit, keep);
    for (const revision of gone) await this.options.store.delete('Revision', revision.metadata.name);
    if (gone.length > 0)
      this.options.logger.info(
        { project: project.metadata.name, removed: gone.map((revision) => revision.metadata.name) },
        'old revisions removed',
      );
  }

  /** A deleted project's revisions go with it. */
  async removeAll(project: string): Promise<void> {
    const { store } = this.options;
    for (const revision of store.list('Revision'))
      if (revision.spec.project === project) await store.delete('Revision', revision.metadata.name);
  }
}
