import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startModuleProcess } from '../../../src/util/module-process.js';
import { startModuleWorker } from '../../../src/util/module-worker.js';
import { lowerProcessPriority, lowerThreadPriority } from '../../../src/util/thread-priority.js';

describe('lowerThreadPriority', () => {
  it.runIf(process.platform === 'linux')('lowers the calling thread only, not the process', async () => {
    const before = getPriority(0);
    const worker = startModuleWorker(new URL('../../support/workers/niced-worker.ts', import.meta.url));
    const answer = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(answer).toEqual({ lowered: true, nice: 7 });
    expect(getPriority(0)).toBe(before);
  });

  it('refuses a nice value outside 0 to 19', () => {
    expect(() => lowerThreadPriority(20)).toThrow(/0 to 19, got 20/);
    expect(() => lowerThreadPriority(-1)).toThrow(RangeError);
  });
});

describe('lowerProcessPriority', () => {
  it.runIf(process.platform === 'linux')('lowers every thread of the process, its helpers too', async () => {
    const child = startModuleProcess(new URL('../../support/workers/niced-process.ts', import.meta.url));
    const answer = await new Promise<{ lowered: boolean; nices: number[] }>((resolve, reject) => {
      child.once('message', (message) => resolve(message as { lowered: boolean; nices: number[] }));
      child.once('error', reject);
    });
    expect(answer.lowered).toBe(true);
    // The main thread, V8's platform threads, the inspector's…: more than one.
    expect(answer.nices.length).toBeGreaterThan(1);
    expect(new Set(answer.nices)).toEqual(new Set([7]));
  });

  it('refuses a nice value outside 0 to 19', () => {
    expect(() => lowerProcessPriority(20)).toThrow(/0 to 19, got 20/);
  });
});
