import { formatMemory } from '../model/quantities.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/runtime.js';
import type { Logger } from '../util/logger.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { planMemoryAdmission, type RunningContainer } from './memory-admission.js';

// Admission by memory, acted on: every start that adds a container's memory to the host
// asks here first. Decisions are taken one at a time (two starts deciding together would
// both see the same free room), and a start admitted but not yet running holds its share
// as a reservation until its container shows in Docker's list.

/** Who may be stopped to make room, and how: the project reconciler, which owns idle instances. */
export interface IdleContainers {
  /** For the containers it owns among these: idle or not, and when each was last used. Others are left out. */
  describe(
    containers: readonly ManagedContainer[],
    startingFor: string,
  ): Promise<Map<string, { idle: boolean; lastUsedAt: number }>>;
  /** Stops the container if it is still idle; false when it is not any more (a request came, a reconcile runs). */
  evict(container: ManagedContainer, reason: string): Promise<boolean>;
}

export interface MemoryBudgetOptions {
  /** What the operator allows in all (`admission.memoryLimit`). */
  limitBytes: number;
  /** What a container without a declared limit counts for. */
  unlimitedContainerBytes: number;
  runtime: Pick<ContainerRuntime, 'list'>;
  /** The limit a lease's container runs with: a claimed pool container was resized to it, so its label no longer says. */
  leaseMemory: (lease: string) => number | undefined;
  logger: Logger;
}

export type AdmissionTicket = { admitted: true; release: () => void } | { admitted: false; reason: string };

/** The reason a start waits for memory, in conditions and events. */
export const INSUFFICIENT_MEMORY = 'InsufficientMemory';

/** A start that could not be admitted: it waits (its requests are held) and says why. */
export class InsufficientMemoryError extends Error {
  readonly code = INSUFFICIENT_MEMORY;
  constructor(reason: string) {
    super(reason);
    this.name = 'InsufficientMemoryError';
  }
}

/** Kept here for the callers that know it from the budget; the requeue clocks live in requeue.ts. */
export { ADMISSION_RETRY_MS } from './requeue.js';
/**
 * Runs a start under admission by memory. Refused: InsufficientMemoryError, and the start
 * never runs. Admitted: `start` gets `running`, to call once its container runs (Docker's
 * list counts it from then on, so the reservation ends); it ends anyway when the start
 * settles. Without a budget the start just runs.
 */
export async function startAdmitted<T>(
  budget: MemoryBudget | undefined,
  who: string,
  declaredBytes: number | undefined,
  start: (running: () => void) => Promise<T>,
): Promise<T> {
  if (!budget) return start(() => undefined);
  const ticket = await budget.admit(who, budget.bytesFor(declaredBytes));
  if (!ticket.admitted) throw new InsufficientMemoryError(ticket.reason);
  try {
    return await start(ticket.release);
  } finally {
    ticket.release();
  }
}

/** Evictions can be refused by a request arriving meanwhile: the plan is made again, this many times. */
const PLAN_ATTEMPTS = 3;
const RUNNING_STATES = new Set<ManagedContainer['state']>(['running', 'paused', 'restarting']);

export class MemoryBudget {
  private readonly decisions = new KeyedLock();
  private readonly reserved = new Map<number, { who: string; bytes: number }>();
  private nextReservation = 1;
  private idle: IdleContainers | undefined;

  constructor(private readonly options: MemoryBudgetOptions) {}

  /** The project reconciler is made after the budget it asks: it is attached here. */
  attachIdleContainers(idle: IdleContainers): void {
    this.idle = idle;
  }

  /** The bytes a container to be started with this declared limit counts for. */
  bytesFor(declared: number | undefined): number {
    return declared ?? this.options.unlimitedContainerBytes;
  }

  /**
   * Asks to start a container of `bytes` for `who` (`Project/web`). Admitted: the caller
   * starts it and then calls release(). Refused: nothing was stopped for it that it then
   * did not get, and the reason says what holds the memory.
   */
  admit(who: string, bytes: number): Promise<AdmissionTicket> {
    return this.decisions.run('host', () => this.decide(who, bytes));
  }

  private async decide(who: string, bytes: number): Promise<AdmissionTicket> {
    const { limitBytes, logger } = this.options;
    for (let attempt = 1; attempt <= PLAN_ATTEMPTS; attempt++) {
      const containers = (await this.options.runtime.list({})).filter((container) =>
        RUNNING_STATES.has(container.state),
      );
      const usage =
        (await this.idle?.describe(containers, who)) ?? new Map<string, { idle: boolean; lastUsedAt: number }>();
      const running: RunningContainer[] = containers.map((container) => ({
        id: container.id,
        owner: `${container.owner.kind}/${container.owner.name}`,
        memoryBytes: this.memoryOf(container),
        state: container.state === 'paused' ? 'paused' : 'running',
        idle: usage.get(container.id)?.idle ?? false,
        lastUsedAt: usage.get(container.id)?.lastUsedAt ?? 0,
      }));
      for (const [id, reservation] of this.reserved) {
        running.push({
          id: `reserved-${id}`,
          owner: reservation.who,
          memoryBytes: reservation.bytes,
          state: 'running',
          idle: false,
          lastUsedAt: Number.MAX_SAFE_INTEGER,
        });
      }
      const plan = planMemoryAdmission({ limitBytes, running, requestBytes: bytes });
      if (!plan.admit) return { admitted: false, reason: `not enough memory to start ${who}: ${plan.reason}` };

      let allStopped = true;
      for (const victim of plan.stop) {
        const container = containers.find((candidate) => candidate.id === victim.id);
        if (!container || !this.idle) continue;
        const reason = `to make room for ${who} (${formatMemory(bytes)}; the host allows ${formatMemory(limitBytes)} of container memory)`;
        if (await this.idle.evict(container, reason)) {
          logger.info(
            { container: container.name, owner: victim.owner, for: who, freedBytes: victim.memoryBytes },
            'stopped an idle container to make room',
          );
        } else {
          allStopped = false;
        }
      }
      if (allStopped) return this.reserve(who, bytes);
    }
    return {
      admitted: false,
      reason: `not enough memory to start ${who}: the idle containers that would make room kept getting requests`,
    };
  }

  private reserve(who: string, bytes: number): AdmissionTicket {
    const id = this.nextReservation++;
    this.reserved.set(id, { who, bytes });
    return { admitted: true, release: () => this.reserved.delete(id) };
  }

  private memoryOf(container: ManagedContainer): number {
    if (container.owner.kind === 'Lease') {
      const leaseBytes = this.options.leaseMemory(container.owner.name);
      if (leaseBytes !== undefined) return leaseBytes;
    }
    return this.bytesFor(container.memoryBytes);
  }
}
