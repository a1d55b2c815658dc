import type { LivenessSettings } from '../model/project-settings.js';
import type { ManagedContainer } from '../runtime/runtime.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/error-message.js';
import type { LivenessProber } from '../util/liveness-probe.js';
import { CheckSchedule } from './check-schedule.js';
import { hostOf } from './project-route.js';

// Checks that serving instances still work (spec.liveness), as the kubelet's liveness
// probes do: each watched instance is checked every periodSeconds, from initialDelaySeconds
// after it became ready; failureThreshold failures in a row mark it failed, and the
// callback is told once (the controller takes it out of rotation and replaces it). A
// success resets the count. One schedule and a bounded number of checks in flight serve
// every instance of every project (check-schedule.ts).
//
// Caches only, lost on restart: the counts, and which instances failed. A restarted
// controller probes adopted instances again and finds a broken one within a threshold.

/** Liveness checks in flight at once, whatever the number of instances. */
export const DEFAULT_LIVENESS_CONCURRENCY = 16;

export interface LivenessFailure {
  project: string;
  /** The container's id and name. */
  id: string;
  container: string;
  /** Failures in a row: failureThreshold. */
  failures: number;
  /** What the last check said (`HTTP 500`, `connect ECONNREFUSED …`, `no answer within 1000 ms`). */
  lastError: string;
}

export interface LivenessTarget {
  container: ManagedContainer;
  /** When it became ready (epoch ms): the initial delay counts from here. Now when unknown. */
  readyAt: number | undefined;
}

export interface LivenessMonitorOptions {
  clock: Clock;
  probe: LivenessProber;
  onFailure: (failure: LivenessFailure) => void;
  concurrency?: number;
}

interface Watched {
  project: string;
  container: ManagedContainer;
  settings: LivenessSettings;
  failures: number;
}

export class LivenessMonitor {
  /** By container id. */
  private readonly watched = new Map<string, Watched>();
  private readonly byProject = new Map<string, Set<string>>();
  private readonly failed = new Map<string, LivenessFailure>();
  private readonly schedule: CheckSchedule<string>;

  constructor(private readonly options: LivenessMonitorOptions) {
    const concurrency = options.concurrency ?? DEFAULT_LIVENESS_CONCURRENCY;
    this.schedule = new CheckSchedule(options.clock, concurrency, (id) => this.check(id));
  }

  /**
   * The instances of a project that serve now, and how to check them (none: the project
   * declares no liveness). Instances no longer listed stop being checked; listed ones
   * keep their count and their place in the schedule.
   */
  watch(project: string, settings: LivenessSettings | undefined, targets: readonly LivenessTarget[]): void {
    const listed = settings
      ? targets.filter(({ container }) => container.hostPort && !this.failed.has(container.id))
      : [];
    const ids = new Set(listed.map(({ container }) => container.id));
    for (const id of this.byProject.get(project) ?? []) if (!ids.has(id)) this.unwatch(id);
    if (!settings || ids.size === 0) {
      this.byProject.delete(project);
      return;
    }
    this.byProject.set(project, ids);
    for (const { container, readyAt } of listed) {
      const known = this.watched.get(container.id);
      if (known) {
        known.settings = settings;
        continue;
      }
      this.watched.set(container.id, { project, container, settings, failures: 0 });
      const now = this.options.clock.now();
      this.schedule.schedule(container.id, Math.max(now, (readyAt ?? now) + settings.initialDelayMs));
    }
  }

  /** Why the instance failed its liveness check, if it did and was not forgotten since. */
  failureOf(id: string): LivenessFailure | undefined {
    return this.failed.get(id);
  }

  /** The container is gone: nothing of it is kept. */
  forget(id: string): void {
    this.unwatch(id);
    this.failed.delete(id);
  }

  /** The project is gone: nothing of its instances is kept. */
  forgetProject(project: string): void {
    this.watch(project, undefined, []);
    for (const [id, failure] of this.failed) if (failure.project === project) this.failed.delete(id);
  }

  /** Instances checked now, for tests and metrics. */
  watching(): number {
    return this.watched.size;
  }

  stop(): void {
    this.schedule.stop();
    this.watched.clear();
    this.byProject.clear();
  }

  private unwatch(id: string): void {
    const entry = this.watched.get(id);
    if (!entry) return;
    this.watched.delete(id);
    this.schedule.cancel(id);
    this.byProject.get(entry.project)?.delete(id);
  }

  private async check(id: string): Promise<void> {
    const entry = this.watched.get(id);
    if (!entry?.container.hostPort) return;
    const { clock, probe } = this.options;
    const startedAt = clock.now();
    const { check, timeoutMs, periodMs, failureThreshold } = entry.settings;
    let error: string | undefined;
    try {
      await probe(hostOf(entry.container), entry.container.hostPort, check, timeoutMs);
    } catch (caught) {
      error = errorMessage(caught);
    }
    // Unwatched while it ran (scaled down, replaced): its answer no longer matters.
    if (this.watched.get(id) !== entry) return;
    entry.failures = error === undefined ? 0 : entry.failures + 1;
    if (error !== undefined && entry.failures >= failureThreshold) return this.fail(entry, error);
    // Periods count from one check's start to the next, as the kubelet's do.
    this.schedule.schedule(id, Math.max(clock.now(), startedAt + periodMs));
  }

  private fail(entry: Watched, lastError: string): void {
    const { project, container, failures } = entry;
    this.unwatch(container.id);
    const failure = { project, id: container.id, container: container.name, failures, lastError };
    this.failed.set(container.id, failure);
    this.options.onFailure(failure);
  }
}
