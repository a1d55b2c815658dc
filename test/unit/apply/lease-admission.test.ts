import { describe, expect, it } from 'vitest';
import {
  checkLeaseAgainstBounds,
  checkRenewal,
  formatLeaseDuration,
  maxRenewalExpiry,
} from '../../../src/apply/lease-admission.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { API_VERSION, type LeaseObject, type LeaseSpec, type LeaseStatus } from '../../../src/model/types.js';

function lease(name: string, spec: Partial<LeaseSpec> = {}, phase?: LeaseStatus['phase']): LeaseObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: { name },
    spec: { project: 'web', ttl: '30m', ...spec },
    ...(phase ? { status: { phase } } : {}),
  };
}

describe('checkLeaseAgainstBounds', () => {
  it('accepts values on the bounds, and a lease without resources', () => {
    expect(
      checkLeaseAgainstBounds(lease('a', { ttl: '5m', resources: { cpu: '250m', memory: '256Mi' } }), DEFAULT_SETTINGS),
    ).toEqual([]);
    expect(
      checkLeaseAgainstBounds(lease('a', { ttl: '120m', resources: { cpu: '2', memory: '2Gi' } }), DEFAULT_SETTINGS),
    ).toEqual([]);
    expect(checkLeaseAgainstBounds(lease('a', { ttl: '2h' }), DEFAULT_SETTINGS)).toEqual([]);
  });

  it.each([
    [{ ttl: '3h' }, ['spec', 'ttl'], '3h is above the maximum of 120m (operator setting leases.maxTtl)'],
    [{ ttl: '120m1s' }, ['spec', 'ttl'], '120m1s is above the maximum of 120m (operator setting leases.maxTtl)'],
    [{ ttl: '4m59s' }, ['spec', 'ttl'], '4m59s is below the minimum of 5m (operator setting leases.minTtl)'],
    [
      { resources: { cpu: '2001m' } },
      ['spec', 'resources', 'cpu'],
      '2001m is above the maximum of 2 (operator setting leases.maxCpu)',
    ],
    [
      { resources: { cpu: '0.1' } },
      ['spec', 'resources', 'cpu'],
      '0.1 is below the minimum of 250m (operator setting leases.minCpu)',
    ],
    [
      { resources: { memory: '3Gi' } },
      ['spec', 'resources', 'memory'],
      '3Gi is above the maximum of 2Gi (operator setting leases.maxMemory)',
    ],
    [
      { resources: { memory: '200M' } },
      ['spec', 'resources', 'memory'],
      '200M is below the minimum of 256Mi (operator setting leases.minMemory)',
    ],
  ])('refuses %j at the field, naming the value, the limit and the setting', (spec, path, message) => {
    expect(checkLeaseAgainstBounds(lease('a', spec), DEFAULT_SETTINGS)).toEqual([{ path, message }]);
  });
});

describe('formatLeaseDuration', () => {
  it.each([
    [120 * 60_000, '120m'],
    [5 * 60_000, '5m'],
    [90_000, '1m30s'],
    [30_000, '30s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatLeaseDuration(ms)).toBe(text);
  });
});

describe('renewal', () => {
  const startedAt = new Date('2025-01-01T10:00:00.000Z');

  it('allows a lease to live leases.maxTtl from its start', () => {
    expect(maxRenewalExpiry(startedAt, DEFAULT_SETTINGS).toISOString()).toBe('2025-01-01T12:00:00.000Z');
  });

  it('extends the expiry up to the maximum', () => {
    const expires = new Date('2025-01-01T10:30:00.000Z');
    expect(checkRenewal(startedAt, expires, 30 * 60_000, DEFAULT_SETTINGS)).toEqual({
      ok: true,
      expiresAt: new Date('2025-01-01T11:00:00.000Z'),
    });
    expect(checkRenewal(startedAt, expires, 90 * 60_000, DEFAULT_SETTINGS)).toEqual({
      ok: true,
      expiresAt: new Date('2025-01-01T12:00:00.000Z'),
    });
  });

  it('refuses beyond the maximum, naming the limit, the setting and the latest end', () => {
    const decision = checkRenewal(startedAt, new Date('2025-01-01T11:30:00.000Z'), 60 * 60_000, DEFAULT_SETTINGS);
    expect(decision).toEqual({
      ok: false,
      error:
        'renewing by 60m would make the lease last 150m, above the maximum of 120m (operator setting leases.maxTtl); it can run until 2025-01-01T12:00:00.000Z at most',
    });
  });

  it.each([0, -1, Number.NaN])('refuses an extension of %d', (extension) => {
    const decision = checkRenewal(startedAt, new Date('2025-01-01T10:30:00.000Z'), extension, DEFAULT_SETTINGS);
    expect(decision.ok).toBe(false);
  });
});
