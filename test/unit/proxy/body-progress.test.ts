import { afterEach, describe, expect, it } from 'vitest';
import { BodyProgressWatch, type BodyProgress } from '../../../src/proxy/body-progress.js';

// The body deadline of node:http and HTTP/2 requests: cut after the timeout without a
// byte, never while bytes keep coming, never for time the proxy was not reading. The
// clock is injected and sweep() called by hand.

const TIMEOUT_MS = 1_000;

class FakeBody implements BodyProgress {
  bytes = 0;
  isReading = true;
  done = false;
  cuts = 0;
  received = (): number => this.bytes;
  reading = (): boolean => this.isReading;
  finished = (): boolean => this.done;
  cut = (): void => {
    this.cuts++;
  };
}

describe('BodyProgressWatch', () => {
  let now = 0;
  const watches: BodyProgressWatch[] = [];
  const watchWith = (): BodyProgressWatch => {
    const watch = new BodyProgressWatch(TIMEOUT_MS, () => now);
    watches.push(watch);
    return watch;
  };
  afterEach(() => {
    for (const watch of watches.splice(0)) watch.stop();
    now = 0;
  });

  it('cuts a body that has not moved for the timeout, once, and forgets it', () => {
    const watch = watchWith();
    const body = new FakeBody();
    watch.watch(body);
    now = TIMEOUT_MS - 1;
    watch.sweep();
    expect(body.cuts).toBe(0);
    now = TIMEOUT_MS;
    watch.sweep();
    expect(body.cuts).toBe(1);
    now = 3 * TIMEOUT_MS;
    watch.sweep();
    expect(body.cuts).toBe(1);
    expect(watch.size).toBe(0);
  });

  it('never cuts a body that keeps moving, however long it takes in all', () => {
    const watch = watchWith();
    const body = new FakeBody();
    watch.watch(body);
    for (let step = 1; step <= 20; step++) {
      now = step * (TIMEOUT_MS - 100);
      body.bytes++;
      watch.sweep();
    }
    expect(now).toBeGreaterThan(10 * TIMEOUT_MS);
    expect(body.cuts).toBe(0);
  });

  it('does not count time the proxy was not reading (held, backpressure) against the client', () => {
    const watch = watchWith();
    const body = new FakeBody();
    body.isReading = false;
    watch.watch(body);
    now = 5 * TIMEOUT_MS;
    watch.sweep();
    expect(body.cuts).toBe(0);
    body.isReading = true;
    now += TIMEOUT_MS - 1;
    watch.sweep();
    expect(body.cuts).toBe(0);
    now += 1;
    watch.sweep();
    expect(body.cuts).toBe(1);
  });

  it('drops a body that arrived whole, and watches nothing when the body is already complete', () => {
    const watch = watchWith();
    const finished = new FakeBody();
    finished.done = true;
    watch.watch(finished);
    expect(watch.size).toBe(0);
    const body = new FakeBody();
    watch.watch(body);
    body.done = true;
    now = 2 * TIMEOUT_MS;
    watch.sweep();
    expect(body.cuts).toBe(0);
    expect(watch.size).toBe(0);
  });
});
