import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../../support/docker.js';
import { eventually, projectManifest, runCli, startLuma, tempDir, type LumaProcess } from '../../support/luma.js';

// Signed lifecycle webhooks from a real `luma up` (issue 24): the receiver checks every
// delivery with the stock `standardwebhooks` library and the operator's secret, as a
// receiver written from the Standard Webhooks docs would; a body changed on the way fails.

const SECRET = `whsec_${Buffer.from('luma-e2e-webhook-signing-key-32b').toString('base64')}`;

interface Delivery {
  body: string;
  headers: Record<string, string>;
  verified: boolean;
}

describe('signed lifecycle webhooks', () => {
  const instance = testInstance('signed-hooks');
  const deliveries: Delivery[] = [];
  let server: http.Server;
  let dir: string;
  let luma: LumaProcess;

  beforeAll(async () => {
    await buildTestImage();
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const headers = req.headers as Record<string, string>;
        let verified = true;
        try {
          new Webhook(SECRET).verify(body, headers);
        } catch {
          verified = false;
        }
        deliveries.push({ body, headers, verified });
        // What a receiver does with a delivery it cannot verify.
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    dir = await tempDir('signed-hooks');
    await mkdir(path.join(dir, 'manifests'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(config, ['stopTimeout: 1s', 'webhooks:', `  urls: [${url}]`, `  secret: ${SECRET}`, ''].join('\n'));
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    server?.closeAllConnections();
    server?.close();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('signs every delivery so that the stock library verifies it, and a tampered body fails', async () => {
    const file = path.join(dir, 'signed.yaml');
    await writeFile(
      file,
      projectManifest('signed', { image: TEST_IMAGE, hostnames: ['signed.localhost'], minInstances: 1 }),
    );
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(
      async () => deliveries.some((delivery) => delivery.body.includes('dev.luma.container.ready')),
      60_000,
      'the container.ready event at the receiver',
    );

    expect(deliveries.length).toBeGreaterThanOrEqual(3);
    for (const delivery of deliveries) {
      expect(delivery.verified, delivery.body).toBe(true);
      expect(delivery.headers['webhook-id']).toBe((JSON.parse(delivery.body) as { id: string }).id);
      expect(delivery.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    }

    const [first] = deliveries;
    if (!first) throw new Error('no delivery');
    const tampered = first.body.replace('"signed"', '"someone-else"');
    expect(tampered).not.toBe(first.body);
    expect(() => new Webhook(SECRET).verify(tampered, first.headers)).toThrow(WebhookVerificationError);
  });
});
