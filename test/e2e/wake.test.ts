import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MetricsSummary } from '../../src/metrics/project-summary.js';
import type { ProjectObject } from '../../src/model/types.js';
import { runningContainersOf, TEST_IMAGE } from '../support/docker.js';
import { eventually, projectManifest, runCli } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// `luma wake project/NAME` through a real `luma up`: an Idle project starts without a
// request, as its first request would start it, and idles again after its idle timeout.

describe('luma wake', () => {
  const up = lumaUpFor('wake', { resyncInterval: '1s', stopTimeout: '1s' });

  async function phaseOf(name: string): Promise<string | undefined> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: up.luma.api });
    return (JSON.parse(result.stdout) as ProjectObject).status?.phase;
  }

  it('starts an Idle project with no request, then idles it after its idle timeout', async () => {
    const file = path.join(up.dir, 'sleepy.yaml');
    await writeFile(
      file,
      projectManifest('sleepy', { image: TEST_IMAGE, hostnames: ['sleepy.localhost'], idleTimeout: '2s' }),
    );
    expect((await runCli(['apply', '-f', file], { api: up.luma.api })).code).toBe(0);
    await eventually(async () => (await phaseOf('sleepy')) === 'Idle', 10_000, 'Idle after apply');

    const woken = await runCli(['wake', 'project/sleepy'], { api: up.luma.api });
    expect(woken.code, woken.stderr).toBe(0);
    expect(woken.stdout).toBe('project/sleepy woken (was Idle)\n');
    await eventually(async () => (await phaseOf('sleepy')) === 'Running', 10_000, 'Running after wake');
    expect(await runningContainersOf(up.instance, 'sleepy')).toHaveLength(1);

    // The cold start it caused, as `luma metrics` reads it (the console's route).
    const metrics = await runCli(['metrics', 'project/sleepy', '-o', 'json'], { api: up.luma.api });
    expect(metrics.code, metrics.stderr).toBe(0);
    const summary = JSON.parse(metrics.stdout) as MetricsSummary;
    expect(summary.proxy).toBe(true);
    expect(summary.projects).toMatchObject([{ project: 'sleepy', coldStarts: 1, requests: 0 }]);
    expect(summary.projects[0]?.coldStartMedianSeconds).toBeGreaterThan(0);
    expect(summary.projects[0]?.phases.map((phase) => phase.phase)).toContain('readiness');
    const shown = await runCli(['metrics'], { api: up.luma.api });
    expect(shown.stdout).toMatch(/^PROJECT\s+COLD STARTS\s+MEDIAN/);
    expect(shown.stdout).toMatch(/\nsleepy\s+1\s+\d+m?s\s+/);
    await eventually(async () => (await phaseOf('sleepy')) === 'Idle', 15_000, 'Idle again after 2s');
    expect(await runningContainersOf(up.instance, 'sleepy')).toHaveLength(0);
  });

  it('says what is wrong with an unknown project or another kind', async () => {
    const missing = await runCli(['wake', 'project/nobody'], { api: up.luma.api });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Project "nobody"');
    const lease = await runCli(['wake', 'lease/nobody'], { api: up.luma.api });
    expect(lease.code).toBe(2);
    expect(lease.stderr).toContain('wake needs project/NAME');
  });
});
