import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { ImageObject, LeaseObject, ProjectObject } from '../../../src/model/types.js';
import { openEndpoint } from '../../support/api.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../../support/docker.js';
import { httpdContext, imageManifest, removeInstanceImages } from '../../support/images.js';
import { apiFetch, eventually, projectManifest, REPO_ROOT, request, runCli, startLuma, tempDir, type LumaProcess } from '../../support/luma.js';
import { promtool, startPrometheus, type PromQueryAnswer, type PrometheusProcess } from '../../support/prometheus.js';

// The dashboard and the alert rules against a real Prometheus (Debian's package) scraping
// a real `luma up` every second: after cold starts of every tier, a build, a lease claimed
// from a pool and expired, and a wake timeout, every dashboard query returns data and
// every alert rule's expression parses.

const DASHBOARD = path.join(REPO_ROOT, 'observability/grafana/luma-dashboard.json');
const ALERT_RULES = path.join(REPO_ROOT, 'observability/prometheus/luma-alerts.yml');
/** A cold start on a busy shared 2-core machine can take far longer than the default 30 s startupTimeout. */
const SLOW_MACHINE_MS = 90_000;
/** What Grafana would put in for a dashboard showing the last few minutes, every project. */
const GRAFANA_VARIABLES: Record<string, string> = { $__rate_interval: '5m', $project: '.*' };

interface PanelQuery {
  panel: string;
  expr: string;
}

interface DashboardPanel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

async function dashboardQueries(): Promise<PanelQuery[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: DashboardPanel[] };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
}

function withVariables(expr: string): string {
  return Object.entries(GRAFANA_VARIABLES).reduce((text, [name, value]) => text.split(name).join(value), expr);
}

async function alertExpressions(): Promise<string[]> {
  const rules = parseYaml(await readFile(ALERT_RULES, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

function samples(answer: PromQueryAnswer): Array<{ metric: Record<string, string>; value: number }> {
  if (answer.status !== 'success' || answer.data.resultType !== 'vector') return [];
  return answer.data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
}

describe('Prometheus, the dashboard and the alert rules against a running luma up', () => {
  const instance = testInstance('prom');
  let dir: string;
  let luma: LumaProcess;
  let prometheus: PrometheusProcess;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('prom');
    await mkdir(path.join(dir, 'manifests'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(config, ['resyncInterval: 1s', 'stopTimeout: 1s', 'leases:', '  minTtl: 1s', '  gracePeriod: 1s', 'pool:', '  batchSpacing: 100ms', ''].join('\n'));
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance, config });
    prometheus = await startPrometheus({ dir: path.join(dir, 'prometheus'), targets: [{ job: 'luma', address: `127.0.0.1:${luma.apiPort}` }], scrapeIntervalSeconds: 1, ruleFiles: [ALERT_RULES] });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function apply(file: string, text: string): Promise<void> {
    const target = path.join(dir, file);
    await writeFile(target, text);
    const result = await runCli(['apply', '-f', target], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  async function getJson<T>(kind: string, name: string): Promise<T> {
    const result = await runCli(['get', kind, name, '-o', 'json'], { api: luma.api });
    if (result.code !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as T;
  }

  /** Read straight from the API (no CLI process per poll), so a short-lived state is not missed. */
  async function project(name: string): Promise<ProjectObject> {
    const response = await apiFetch(luma.api, `/api/v1alpha1/projects/${name}`);
    if (response.status !== 200) throw new Error(`project ${name}: ${response.status}`);
    return (await response.json()) as ProjectObject;
  }

  it('promtool check rules passes on the alert rules', async () => {
    const result = await promtool(['check', 'rules', ALERT_RULES]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('after cold starts of every tier, a build, a lease and a wake timeout, every dashboard query returns data', async () => {
    // rate() needs the build's series scraped at zero before the build: a fast build that
    // ends before the first scrape would show as no build at all.
    await eventually(async () => samples(await prometheus.query('luma_image_build_duration_seconds_count')).length > 0, 30_000, 'a first scrape of luma up');
    // A build: an Image from a local context, and the project that runs it, with a pool
    // for leases, frozen after 1 s and stopped after 8 s without requests.
    await httpdContext(path.join(dir, 'app'), 'hello from the observed app\n');
    await apply(
      'app.yaml',
      imageManifest('observed', { context: './app' }) +
        '---\n' +
        projectManifest('observed', { image: 'observed', hostnames: ['observed.localhost'], idleTimeout: '8s', pauseAfter: '1s', startupTimeout: '80s' }) +
        '  pool:\n    size: 1\n',
    );
    await eventually(async () => (await getJson<ImageObject>('image', 'observed')).status?.phase === 'Ready', 120_000, 'the image to be built');

    // fresh: the first request creates the container.
    expect((await request(luma.proxyPort, 'observed.localhost', '/', SLOW_MACHINE_MS)).status).toBe(200);
    // paused: frozen after pauseAfter, thawed by the next request.
    await eventually(async () => (await project('observed')).status?.instances?.paused === 1, 20_000, 'the instance to be paused');
    expect((await request(luma.proxyPort, 'observed.localhost', '/', SLOW_MACHINE_MS)).status).toBe(200);
    // stopped: stopped after idleTimeout, started again by the next request.
    await eventually(async () => {
      const instances = (await project('observed')).status?.instances;
      return instances?.running === 0 && instances.paused === 0 && instances.stopped >= 1;
    }, 30_000, 'the instance to be stopped');
    expect((await request(luma.proxyPort, 'observed.localhost', '/', SLOW_MACHINE_MS)).status).toBe(200);
    // A project's histograms appear with their first observation (docs/observability.md), so
    // rate() over them starts at the second: one more paused cold start gives the quantile
    // panels a tier to draw. The first of each tier is counted by luma_cold_starts_total.
    await eventually(async () => (await project('observed')).status?.instances?.paused === 1, 20_000, 'the instance to be paused again');
    expect((await request(luma.proxyPort, 'observed.localhost', '/', SLOW_MACHINE_MS)).status).toBe(200);

    // A lease claimed from the pool, which expires within seconds and is billed.
    await eventually(async () => ((await project('observed')).status?.pool?.ready ?? 0) >= 1, 60_000, 'the pool to be ready');
    await apply('lease.yaml', ['apiVersion: luma.dev/v1alpha1', 'kind: Lease', 'metadata:', '  name: observer', 'spec:', '  project: observed', '  ttl: 2s', ''].join('\n'));
    await eventually(async () => (await getJson<LeaseObject>('lease', 'observer')).status?.phase === 'Expired', 30_000, 'the lease to expire');

    // A wake timeout: a project whose app runs but never listens never becomes ready (an app
    // that exits at once would be a crash loop, answered 503 at once without a timeout).
    await apply('broken.yaml', projectManifest('broken', { image: TEST_IMAGE, hostnames: ['broken.localhost'], command: ['/bin/busybox', 'sleep', '3600'], startupTimeout: '1s' }));
    expect((await request(luma.proxyPort, 'broken.localhost')).status).toBe(503);

    // Every tier's cold start counter has its cold start in Prometheus.
    await eventually(async () => {
      const counts = samples(await prometheus.query('sum by (tier) (luma_cold_starts_total{project="observed"})'));
      return ['fresh', 'paused', 'stopped'].every((tier) => (counts.find((sample) => sample.metric.tier === tier)?.value ?? 0) >= 1);
    }, 20_000, 'cold starts of every tier to be scraped');
    await eventually(async () => samples(await prometheus.query('luma_leases_ended_total{project="observed",reason="Expired"}')).length === 1, 20_000, 'the expired lease to be scraped');
    await eventually(async () => samples(await prometheus.query('luma_proxy_wake_timeouts_total{project="broken"}')).some((sample) => sample.value >= 1), 20_000, 'the wake timeout to be scraped');
    // Deleted only now: a deleted project's series leave /metrics (Prometheus keeps what it scraped).
    const deleted = await runCli(['delete', 'project', 'broken'], { api: luma.api });
    expect(deleted.code, deleted.stderr).toBe(0);

    const empty: string[] = [];
    for (const { panel, expr } of await dashboardQueries()) {
      const answer = await prometheus.query(withVariables(expr));
      expect(answer.status, `${panel}: ${expr}: ${answer.status === 'error' ? answer.error : ''}`).toBe('success');
      // Data a panel can draw: at least one series with a number (not NaN from an empty rate).
      if (!samples(answer).some((sample) => Number.isFinite(sample.value))) empty.push(`${panel}: ${expr}`);
    }
    expect(empty).toEqual([]);
  }, 360_000);

  it('every alert rule expression parses in Prometheus', async () => {
    for (const expr of await alertExpressions()) {
      const answer = await prometheus.query(expr);
      expect(answer.status, `${expr}: ${answer.status === 'error' ? answer.error : ''}`).toBe('success');
    }
  });

  it('promtool check metrics passes on luma up’s /metrics (controller and proxy in one)', async () => {
    const text = await openEndpoint(luma.server, '/metrics');
    expect(text).toContain('luma_proxy_requests_total{');
    expect(text).toContain('luma_cold_start_duration_seconds_bucket{');
    const result = await promtool(['check', 'metrics'], text);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });
});
