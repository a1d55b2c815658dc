import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEndpoint } from '../../support/api.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../../support/docker.js';
import { projectManifest, request, runCli, tempDir, writeConfig } from '../../support/luma.js';
import { promtool } from '../../support/prometheus.js';
import { startController, startProxy, type ControllerProcess, type ProxyProcess } from '../../support/proxy.js';

// The split deployment has two /metrics: the controller's on its API listener, the
// proxy's on `--metrics-listen` (never on the public listener). Both pass promtool's lint
// after real traffic, and each carries its own half.

describe('/metrics of `luma proxy run` and `luma controller`', () => {
  const instance = testInstance('metrics');
  let dir: string;
  let proxy: ProxyProcess | undefined;
  let controller: ControllerProcess | undefined;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('metrics');
    const stateDir = path.join(dir, 'state');
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    proxy = await startProxy({ stateDir, args: ['--metrics-listen', '127.0.0.1:0'] });
    controller = await startController({ stateDir, manifests, proxyPort: proxy.port, instance, config: await writeConfig(dir, { resyncInterval: '1s' }) });
  });

  afterAll(async () => {
    await controller?.stop();
    await proxy?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('both pass promtool check metrics after a cold start, each with its own series', async () => {
    const file = path.join(dir, 'hello.yaml');
    await writeFile(file, projectManifest('hello', { image: TEST_IMAGE, hostnames: ['hello.localhost'] }));
    const applied = await runCli(['apply', '-f', file], { api: controller!.api });
    expect(applied.code, applied.stderr).toBe(0);
    expect((await request(proxy!.port, 'hello.localhost')).status).toBe(200);

    expect(proxy!.metricsPort).toBeGreaterThan(0);
    const proxyMetrics = await openEndpoint(`http://127.0.0.1:${proxy!.metricsPort}`, '/metrics');
    const controllerMetrics = await openEndpoint(controller!.server, '/metrics');

    expect(proxyMetrics).toMatch(/^luma_proxy_requests_total\{project="hello",revision="hello-1",code_class="2xx"\} 1$/m);
    expect(proxyMetrics).toMatch(/^luma_proxy_held_requests_total\{project="hello"\} 1$/m);
    expect(proxyMetrics).not.toContain('luma_cold_start_duration_seconds');
    expect(controllerMetrics).toMatch(/^luma_cold_start_duration_seconds_count\{project="hello",tier="fresh"\} 1$/m);
    expect(controllerMetrics).not.toContain('luma_proxy_requests_total');

    for (const [name, text] of [['proxy', proxyMetrics], ['controller', controllerMetrics]] as const) {
      const result = await promtool(['check', 'metrics'], text);
      expect(result.code, `${name}: ${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it('the public listener does not serve the metrics', async () => {
    const answer = await request(proxy!.port, 'hello.localhost', '/metrics');
    expect(answer.body).not.toContain('luma_proxy_requests_total');
  });
});
