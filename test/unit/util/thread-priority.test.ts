import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { startModuleWorker } from '../../../src/util/module-worker.js';
import { lowerThreadPriority } from '../../../src/util/thread-priority.js';

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
