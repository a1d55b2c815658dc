import { describe, expect, it } from 'vitest';
import { RENEWAL_DEFAULTS, renewalTime, retryDelay } from '../../../../src/proxy/tls/renewal-policy.js';

const DAY = 86_400_000;
const MINUTE = 60_000;

describe('renewalTime', () => {
  it('renews a 90-day certificate 30 days before it expires', () => {
    expect(renewalTime(0, 90 * DAY)).toBe(60 * DAY);
  });

  it('renews a long-lived certificate no earlier than 30 days before expiry', () => {
    expect(renewalTime(0, 365 * DAY)).toBe(335 * DAY);
  });

  it('renews a short-lived certificate once a third of its life is left', () => {
    expect(renewalTime(0, 6 * DAY)).toBe(4 * DAY);
    expect(renewalTime(1_000, 10_000)).toBe(7_000);
  });
});

describe('retryDelay', () => {
  it('doubles from 5 minutes, staying under 5 failed validations an hour, up to 6 hours', () => {
    expect([1, 2, 3, 4].map((failures) => retryDelay(failures) / MINUTE)).toEqual([5, 10, 20, 40]);
    expect(retryDelay(20)).toBe(RENEWAL_DEFAULTS.retryMaxMs);
    expect(retryDelay(10_000)).toBe(6 * 60 * MINUTE);
  });
});
