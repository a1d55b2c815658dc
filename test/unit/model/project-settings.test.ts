import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_INSTANCES,
  DEFAULT_MIN_INSTANCES,
  DEFAULT_PORT,
  DEFAULT_STARTUP_TIMEOUT_MS,
  DEFAULT_TARGET_CONCURRENCY,
  ProjectSettingsResolver,
  resolveProjectSettings,
  type ProjectSettings,
} from '../../../src/model/project-settings.js';
import { QuantityError } from '../../../src/model/quantities.js';
import type { ProjectSpec } from '../../../src/model/types.js';

const minimal: ProjectSpec = { image: 'hello', hostnames: ['hello.localhost'] };

describe('resolveProjectSettings', () => {
  it('fills in every default', () => {
    expect(resolveProjectSettings(minimal)).toEqual<ProjectSettings>({
      image: 'hello',
      hostnames: ['hello.localhost'],
      port: 8080,
      env: { PORT: '8080' },
      capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'],
      minInstances: 0,
      maxInstances: 1,
      targetConcurrency: 80,
      requestTimeoutMs: 300_000,
      idleTimeoutMs: 60_000,
      startupTimeoutMs: 30_000,
      readiness: { type: 'http', path: '/' },
      poolSize: 0,
      maxConcurrentLeases: undefined,
      tls: false,
    });
    expect(resolveProjectSettings(minimal)).toHaveProperty('maxConcurrentLeases', undefined);
  });

  it('names its defaults', () => {
    expect([
      DEFAULT_PORT,
      DEFAULT_MIN_INSTANCES,
      DEFAULT_MAX_INSTANCES,
      DEFAULT_TARGET_CONCURRENCY,
      DEFAULT_IDLE_TIMEOUT_MS,
      DEFAULT_STARTUP_TIMEOUT_MS,
    ]).toEqual([8080, 0, 1, 80, 60_000, 30_000]);
  });

  it('reads every declared field as plain numbers', () => {
    const settings = resolveProjectSettings({
      image: 'registry.example.com/app:v2',
      hostnames: ['app.example.com', 'www.example.com'],
      port: 3000,
      env: { LOG_LEVEL: 'debug' },
      command: ['node'],
      args: ['server.js'],
      resources: { cpu: '1.5', memory: '256Mi' },
      scaling: {
        minInstances: 1,
        maxInstances: 4,
        targetConcurrency: 10,
        maxConcurrency: 4,
        idleTimeout: '5m',
        pauseAfter: '30s',
      },
      timeout: '90s',
      pool: { size: 2 },
      leases: { maxConcurrent: 3 },
      readiness: { httpGet: { path: '/healthz' }, startupTimeout: '2m' },
      liveness: { httpGet: { path: '/alive' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 4 },
      tls: true,
      securityContext: { capabilities: { add: ['SYS_PTRACE', 'NET_RAW', 'CHOWN'] } },
    });
    expect(settings).toEqual<ProjectSettings>({
      image: 'registry.example.com/app:v2',
      hostnames: ['app.example.com', 'www.example.com'],
      port: 3000,
      env: { LOG_LEVEL: 'debug', PORT: '3000' },
      command: ['node'],
      args: ['server.js'],
      cpuMillis: 1500,
      memoryBytes: 256 * 2 ** 20,
      // The kept set plus what was added, each once, sorted.
      capabilities: [
        'CHOWN',
        'DAC_OVERRIDE',
        'FOWNER',
        'KILL',
        'NET_BIND_SERVICE',
        'NET_RAW',
        'SETGID',
        'SETUID',
        'SYS_PTRACE',
      ],
      minInstances: 1,
      maxInstances: 4,
      // Never above the hard cap: another instance starts before requests must queue.
      targetConcurrency: 4,
      maxConcurrency: 4,
      // 10 per slot: 10 x 4 instances x 4.
      maxQueued: 160,
      requestTimeoutMs: 90_000,
      idleTimeoutMs: 300_000,
      pauseAfterMs: 30_000,
      startupTimeoutMs: 120_000,
      readiness: { type: 'http', path: '/healthz' },
      liveness: {
        check: { type: 'http', path: '/alive' },
        periodMs: 5000,
        timeoutMs: 2000,
        failureThreshold: 4,
        initialDelayMs: 0,
      },
      poolSize: 2,
      maxConcurrentLeases: 3,
      tls: true,
    });
  });

  it("fills a liveness check's timings with Kubernetes' defaults, and declares none unless asked", () => {
    expect(resolveProjectSettings(minimal).liveness).toBeUndefined();
    expect(resolveProjectSettings({ ...minimal, liveness: { tcpSocket: {} } }).liveness).toEqual({
      check: { type: 'tcp' },
      periodMs: 10_000,
      timeoutMs: 1_000,
      failureThreshold: 3,
      initialDelayMs: 0,
    });
  });

  it('bounds the queue behind maxConcurrency: as declared, or 10 per slot up to 1000', () => {
    const scaled = (scaling: ProjectSpec['scaling']): ProjectSettings =>
      resolveProjectSettings({ ...minimal, scaling });
    expect(scaled({ maxConcurrency: 1, maxInstances: 2 })).toMatchObject({ maxConcurrency: 1, maxQueued: 20 });
    expect(scaled({ maxConcurrency: 50, maxInstances: 10 })).toMatchObject({ maxQueued: 1_000 });
    expect(scaled({ maxConcurrency: 1, maxQueued: 3 })).toMatchObject({ maxQueued: 3, targetConcurrency: 1 });
    expect(scaled({ targetConcurrency: 5 })).not.toHaveProperty('maxConcurrency');
  });

  it("gives a project without a memory limit the operator's default, and leaves a declared one alone", () => {
    expect(resolveProjectSettings(minimal, { defaultMemoryBytes: 512 * 2 ** 20 }).memoryBytes).toBe(512 * 2 ** 20);
    expect(
      resolveProjectSettings({ ...minimal, resources: { memory: '64Mi' } }, { defaultMemoryBytes: 512 * 2 ** 20 })
        .memoryBytes,
    ).toBe(64 * 2 ** 20);
    expect(
      resolveProjectSettings({ ...minimal, resources: { cpu: '1' } }, { defaultMemoryBytes: 512 * 2 ** 20 })
        .memoryBytes,
    ).toBe(512 * 2 ** 20);
    expect(resolveProjectSettings(minimal).memoryBytes).toBeUndefined();
  });

  it("resolves with the operator's defaults once given: both for a project, the idle timeout only for its pool", () => {
    const resolver = new ProjectSettingsResolver({ defaultIdleTimeoutMs: 5_000, defaultMemoryBytes: 2 ** 30 });
    expect(resolver.forProject(minimal)).toMatchObject({ idleTimeoutMs: 5_000, memoryBytes: 2 ** 30 });
    const pooled = resolver.forPool(minimal);
    expect(pooled.idleTimeoutMs).toBe(5_000);
    expect(pooled.memoryBytes).toBeUndefined();
    expect(new ProjectSettingsResolver().forProject(minimal)).toEqual(resolveProjectSettings(minimal));
  });

  it('keeps a PORT the user set', () => {
    expect(resolveProjectSettings({ ...minimal, env: { PORT: '9000' } }).env).toEqual({ PORT: '9000' });
  });

  it('orders env by name, so that reordering a manifest changes nothing', () => {
    const a = resolveProjectSettings({ ...minimal, env: { B: '2', A: '1' } });
    const b = resolveProjectSettings({ ...minimal, env: { A: '1', B: '2' } });
    expect(Object.keys(a.env)).toEqual(['A', 'B', 'PORT']);
    expect(JSON.stringify(a.env)).toBe(JSON.stringify(b.env));
  });

  it('probes TCP when asked', () => {
    expect(resolveProjectSettings({ ...minimal, readiness: { tcpSocket: {} } }).readiness).toEqual({ type: 'tcp' });
    expect(resolveProjectSettings({ ...minimal, readiness: { httpGet: {} } }).readiness).toEqual({
      type: 'http',
      path: '/',
    });
  });

  it('probes readiness over h2c for an app that speaks HTTP/2 (spec.http2), TCP still when asked', () => {
    const http2 = resolveProjectSettings({ ...minimal, http2: true });
    expect(http2.http2).toBe(true);
    expect(http2.readiness).toEqual({ type: 'h2c', path: '/' });
    expect(resolveProjectSettings({ ...minimal, http2: true, readiness: { tcpSocket: {} } }).readiness).toEqual({
      type: 'tcp',
    });
    expect(resolveProjectSettings({ ...minimal, http2: false }).http2).toBeUndefined();
  });

  it("uses the operator's idle timeout only when the project declares none", () => {
    expect(resolveProjectSettings(minimal, { defaultIdleTimeoutMs: 600_000 }).idleTimeoutMs).toBe(600_000);
    expect(
      resolveProjectSettings({ ...minimal, scaling: { idleTimeout: '10s' } }, { defaultIdleTimeoutMs: 600_000 })
        .idleTimeoutMs,
    ).toBe(10_000);
    expect(resolveProjectSettings(minimal, {}).idleTimeoutMs).toBe(60_000);
  });

  it('raises maxInstances to minInstances when only the minimum is declared', () => {
    const settings = resolveProjectSettings({ ...minimal, scaling: { minInstances: 3 } });
    expect([settings.minInstances, settings.maxInstances]).toEqual([3, 3]);
  });

  it('drops a pauseAfter that would not come before the idle timeout', () => {
    const spec: ProjectSpec = { ...minimal, scaling: { pauseAfter: '2m' } };
    expect(resolveProjectSettings(spec).pauseAfterMs).toBeUndefined();
    expect(resolveProjectSettings(spec, { defaultIdleTimeoutMs: 300_000 }).pauseAfterMs).toBe(120_000);
  });

  it('does not share arrays with the spec', () => {
    const spec: ProjectSpec = { ...minimal, command: ['a'] };
    const settings = resolveProjectSettings(spec);
    settings.hostnames.push('other');
    settings.command?.push('b');
    expect(spec).toEqual({ ...minimal, command: ['a'] });
  });

  it('throws on a quantity that validation would have refused', () => {
    expect(() => resolveProjectSettings({ ...minimal, scaling: { idleTimeout: 'soon' } })).toThrow(QuantityError);
  });
});
