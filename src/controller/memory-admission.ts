import { formatMemory } from '../model/quantities.js';

// Admission by memory: before a start would push the sum of running containers' memory
// limits past what the operator allows for the host, make room by stopping the least
// recently used idle containers (paused ones first: they serve nobody and resume is what
// is lost; then running idle ones), and otherwise hold the start and say why. Pure: the
// caller gives what runs and acts on the plan (memory-budget.ts).

export interface RunningContainer {
  id: string;
  /** Who it serves, for the reason shown when room cannot be made. */
  owner: string;
  memoryBytes: number;
  state: 'running' | 'paused';
  /** Serving no request now and not kept by minInstances or a lease: may be stopped to make room. */
  idle: boolean;
  /** Epoch ms of its last request (or of its readiness): least recently used goes first. */
  lastUsedAt: number;
}

export interface MemoryAdmissionInput {
  /** What the operator allows in total; undefined means no limit. */
  limitBytes: number | undefined;
  running: readonly RunningContainer[];
  /** The memory limit of the container about to start. */
  requestBytes: number;
}

export type MemoryAdmission = { admit: true; stop: RunningContainer[] } | { admit: false; reason: string };

export function planMemoryAdmission(input: MemoryAdmissionInput): MemoryAdmission {
  const { limitBytes, running, requestBytes } = input;
  if (limitBytes === undefined) return { admit: true, stop: [] };
  if (requestBytes > limitBytes) {
    return {
      admit: false,
      reason: `it needs ${formatMemory(requestBytes)} of memory, more than the host allows in all (${formatMemory(limitBytes)})`,
    };
  }
  const used = running.reduce((sum, container) => sum + container.memoryBytes, 0);
  let excess = used + requestBytes - limitBytes;
  if (excess <= 0) return { admit: true, stop: [] };

  const stateOrder = { paused: 0, running: 1 } as const;
  const candidates = running
    .filter((container) => container.idle)
    .sort(
      (a, b) => stateOrder[a.state] - stateOrder[b.state] || a.lastUsedAt - b.lastUsedAt || a.id.localeCompare(b.id),
    );
  const stop: RunningContainer[] = [];
  for (const candidate of candidates) {
    if (excess <= 0) break;
    stop.push(candidate);
    excess -= candidate.memoryBytes;
  }
  if (excess > 0) {
    const busy = [
      ...new Set(running.filter((container) => !container.idle).map((container) => container.owner)),
    ].sort();
    return {
      admit: false,
      reason: `starting it would put ${formatMemory(used + requestBytes)} of memory limits on a host that allows ${formatMemory(limitBytes)}, and stopping every idle container frees too little; busy: ${busy.join(', ') || 'none'}`,
    };
  }
  return { admit: true, stop };
}
