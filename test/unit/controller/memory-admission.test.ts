import { describe, expect, it } from 'vitest';
import { planMemoryAdmission, type RunningContainer } from '../../../src/controller/memory-admission.js';

// Which idle containers make room for a start, table-driven: paused before running,
// least recently used first, only as many as needed; otherwise the start waits, with why.

const Mi = 2 ** 20;

function container(
  id: string,
  memoryMi: number,
  state: 'running' | 'paused',
  idle: boolean,
  lastUsedAt: number,
  owner = id,
): RunningContainer {
  return { id, owner, memoryBytes: memoryMi * Mi, state, idle, lastUsedAt };
}

describe('planMemoryAdmission', () => {
  const rows: Array<{
    name: string;
    limitMi: number | undefined;
    running: RunningContainer[];
    requestMi: number;
    stop?: string[];
    refused?: string;
  }> = [
    {
      name: 'no limit: always admitted',
      limitMi: undefined,
      running: [container('a', 4096, 'running', false, 0)],
      requestMi: 4096,
      stop: [],
    },
    {
      name: 'room left: nothing stopped',
      limitMi: 512,
      running: [container('a', 256, 'running', true, 0)],
      requestMi: 256,
      stop: [],
    },
    {
      name: 'paused before running, whatever their age',
      limitMi: 512,
      running: [container('old-running', 256, 'running', true, 1), container('new-paused', 256, 'paused', true, 9)],
      requestMi: 256,
      stop: ['new-paused'],
    },
    {
      name: 'least recently used first, and only as many as needed',
      limitMi: 768,
      running: [
        container('b', 256, 'running', true, 20),
        container('a', 256, 'running', true, 10),
        container('c', 256, 'running', true, 30),
      ],
      requestMi: 256,
      stop: ['a'],
    },
    {
      name: 'refused when stopping every idle container frees too little',
      limitMi: 512,
      running: [
        container('p', 128, 'paused', true, 5),
        container('r', 256, 'running', true, 1),
        container('busy', 128, 'running', false, 0),
      ],
      requestMi: 512,
      refused:
        'starting it would put 1Gi of memory limits on a host that allows 512Mi, and stopping every idle container frees too little; busy: busy',
    },
    {
      name: 'paused, then running, until enough is freed',
      limitMi: 640,
      running: [
        container('p', 128, 'paused', true, 5),
        container('r', 256, 'running', true, 1),
        container('busy', 128, 'running', false, 0),
      ],
      requestMi: 384,
      stop: ['p', 'r'],
    },
    {
      name: 'busy containers are never stopped: the start waits, naming them',
      limitMi: 512,
      running: [
        container('web-1', 256, 'running', false, 0, 'project/web'),
        container('lease', 256, 'running', false, 0, 'lease/alice'),
      ],
      requestMi: 64,
      refused:
        'starting it would put 576Mi of memory limits on a host that allows 512Mi, and stopping every idle container frees too little; busy: lease/alice, project/web',
    },
    {
      name: 'a start larger than the whole host',
      limitMi: 256,
      running: [],
      requestMi: 512,
      refused: 'it needs 512Mi of memory, more than the host allows in all (256Mi)',
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const plan = planMemoryAdmission({
        limitBytes: row.limitMi === undefined ? undefined : row.limitMi * Mi,
        running: row.running,
        requestBytes: row.requestMi * Mi,
      });
      if (row.refused !== undefined) expect(plan).toEqual({ admit: false, reason: row.refused });
      else expect(plan.admit && plan.stop.map((stopped) => stopped.id)).toEqual(row.stop);
    });
  }
});
