import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../../src/events/cloudevents.js';
import { WebhookDispatcher, type WebhookSender, type WebhookSettings } from '../../../src/events/webhooks.js';
import { silentLogger } from '../../../src/util/logger.js';

// The dispatcher with a scripted sender and no real waiting: order, retries, giving up,
// the bounded queue, and that handing over an event never waits for a receiver.

const URL_A = 'http://a.test/hook';

function event(id: string): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/luma/test',
    type: 'dev.luma.container.started',
    subject: 'project/app',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    data: { kind: 'Project', name: 'app', reason: 'ContainerStarted', message: '', eventType: 'Normal' },
  };
}

const SETTINGS: WebhookSettings = { urls: [URL_A], queueSize: 10, maxAttempts: 3, retryDelayMs: 100, timeoutMs: 1_000 };

/** A sender that answers from a script per event id (default 200) and records every attempt. */
function scriptedSender(script: Record<string, Array<number | Error>> = {}): {
  send: WebhookSender;
  attempts: string[];
} {
  const attempts: string[] = [];
  return {
    attempts,
    send: async (_url, sent) => {
      attempts.push(sent.id);
      const answer = script[sent.id]?.shift() ?? 200;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

/** Lets queued deliveries run to completion (every await in them is already resolved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

describe('WebhookDispatcher', () => {
  it('delivers events in order, retrying an error answer or a network error before the next event, with doubling delays', async () => {
    const { send, attempts } = scriptedSender({ e1: [500, new Error('ECONNRESET')] });
    const delays: number[] = [];
    const dispatcher = new WebhookDispatcher(SETTINGS, {
      logger: silentLogger(),
      send,
      sleep: async (ms) => void delays.push(ms),
    });
    dispatcher.dispatch(event('e1'));
    dispatcher.dispatch(event('e2'));
    await settle();

    expect(attempts).toEqual(['e1', 'e1', 'e1', 'e2']);
    expect(delays).toEqual([100, 200]);
    expect(dispatcher.stats()).toEqual([{ url: URL_A, queued: 0, delivered: 2, failed: 0, dropped: 0, retries: 2 }]);
  });

  it('gives up on an event after maxAttempts and goes on with the next', async () => {
    const { send, attempts } = scriptedSender({ e1: [503, 503, 503] });
    const dispatcher = new WebhookDispatcher(SETTINGS, { logger: silentLogger(), send, sleep: async () => undefined });
    dispatcher.dispatch(event('e1'));
    dispatcher.dispatch(event('e2'));
    await settle();

    expect(attempts).toEqual(['e1', 'e1', 'e1', 'e2']);
    expect(dispatcher.stats()[0]).toMatchObject({ delivered: 1, failed: 1, retries: 2 });
  });

  it('returns at once while a receiver hangs, and a full queue drops its oldest event', async () => {
    const attempts: string[] = [];
    const hang: WebhookSender = (_url, sent) => {
      attempts.push(sent.id);
      return new Promise<number>(() => undefined);
    };
    const dispatcher = new WebhookDispatcher({ ...SETTINGS, queueSize: 2 }, { logger: silentLogger(), send: hang });
    for (const id of ['e1', 'e2', 'e3', 'e4']) dispatcher.dispatch(event(id));
    await settle();

    // e1 is in flight; e2 was dropped for e4; e3 and e4 wait.
    expect(attempts).toEqual(['e1']);
    expect(dispatcher.stats()[0]).toMatchObject({ queued: 2, dropped: 1, delivered: 0 });
    dispatcher.close();
    expect(dispatcher.stats()[0]).toMatchObject({ queued: 0 });
  });

  it('keeps one queue per URL: a failing URL does not hold up another', async () => {
    const urlB = 'http://b.test/hook';
    const attempts: string[] = [];
    const send: WebhookSender = async (url, sent) => {
      attempts.push(`${url} ${sent.id}`);
      return url === URL_A ? new Promise<number>(() => undefined) : 204;
    };
    const dispatcher = new WebhookDispatcher({ ...SETTINGS, urls: [URL_A, urlB] }, { logger: silentLogger(), send });
    dispatcher.dispatch(event('e1'));
    dispatcher.dispatch(event('e2'));
    await settle();

    expect(attempts).toEqual([`${URL_A} e1`, `${urlB} e1`, `${urlB} e2`]);
    expect(dispatcher.stats()[1]).toMatchObject({ url: urlB, delivered: 2 });
  });
});
