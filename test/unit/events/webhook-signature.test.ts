import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings, SettingsError } from '../../../src/config/settings.js';
import type { CloudEvent } from '../../../src/events/cloudevents.js';
import { webhookSecretProblem, webhookSigner } from '../../../src/events/webhook-signature.js';
import { fetchSender } from '../../../src/events/webhooks.js';

// Standard Webhooks signatures, checked with the stock `standardwebhooks` library as a
// receiver would: a real delivery verifies; a changed body, timestamp or secret does not.

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

const EVENT: CloudEvent = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/luma/default',
  type: 'dev.luma.container.ready',
  subject: 'project/hello',
  time: '2025-01-01T12:00:00.000Z',
  datacontenttype: 'application/json',
  data: { kind: 'Project', name: 'hello', reason: 'ContainerReady', message: 'ready', eventType: 'Normal' },
};

interface Delivery {
  body: string;
  headers: Record<string, string>;
}

let server: http.Server | undefined;
afterEach(() => server?.close());

async function deliverOnce(secret: string): Promise<Delivery> {
  const received = new Promise<Delivery>((resolve) => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        res.writeHead(204).end();
        resolve({ body, headers: req.headers as Record<string, string> });
      });
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const port = (server?.address() as AddressInfo).port;
  const status = await fetchSender(webhookSigner(secret))(`http://127.0.0.1:${port}/hook`, EVENT, 5_000);
  expect(status).toBe(204);
  return received;
}

describe('signed webhooks', () => {
  it('sends webhook-id (the event id), webhook-timestamp and a v1 signature the stock library verifies', async () => {
    const delivery = await deliverOnce(SECRET);
    expect(delivery.headers['webhook-id']).toBe('evt-1');
    expect(Math.abs(Number(delivery.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(delivery.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(new Webhook(SECRET).verify(delivery.body, delivery.headers)).toEqual(EVENT);
  });

  it('fails verification for a tampered body, a replayed timestamp or another secret', async () => {
    const delivery = await deliverOnce(SECRET);
    const tampered = delivery.body.replace('"hello"', '"h4ck3d"');
    expect(tampered).not.toBe(delivery.body);
    expect(() => new Webhook(SECRET).verify(tampered, delivery.headers)).toThrow(WebhookVerificationError);
    const old = String(Number(delivery.headers['webhook-timestamp']) - 3_600);
    expect(() => new Webhook(SECRET).verify(delivery.body, { ...delivery.headers, 'webhook-timestamp': old })).toThrow(
      WebhookVerificationError,
    );
    const other = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;
    expect(() => new Webhook(other).verify(delivery.body, delivery.headers)).toThrow(WebhookVerificationError);
  });

  it('sends no signature headers without a secret', async () => {
    const port = await new Promise<number>((resolve) => {
      server = http.createServer((req, res) => {
        expect(req.headers['webhook-signature']).toBeUndefined();
        res.writeHead(200).end();
      });
      server.listen(0, '127.0.0.1', () => resolve((server?.address() as AddressInfo).port));
    });
    expect(await fetchSender()(`http://127.0.0.1:${port}/`, EVENT, 5_000)).toBe(200);
  });
});

describe('webhooks.secret in the operator settings', () => {
  it('is read from the config file', () => {
    const settings = parseSettings(`webhooks:\n  urls: [http://127.0.0.1:9/h]\n  secret: ${SECRET}\n`, 'luma.yaml');
    expect(settings.webhooks?.secret).toBe(SECRET);
  });

  it.each([
    ['plain', 'expected whsec_ followed by base64'],
    [`whsec_${Buffer.alloc(8).toString('base64')}`, 'the key is 8 bytes; at least 24 are needed'],
  ])('refuses %s without echoing it', (secret, reason) => {
    expect(webhookSecretProblem(secret)).toContain(reason);
    const read = (): unknown => parseSettings(`webhooks:\n  secret: ${secret}\n`, 'luma.yaml');
    expect(read).toThrow(SettingsError);
    expect(read).toThrow(`webhooks.secret: ${reason}`);
    expect(read).not.toThrow(secret);
  });
});
