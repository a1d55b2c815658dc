// When a certificate is renewed and how failed attempts back off: pure arithmetic, so the
// schedule is tested with plain numbers.

const DAY_MS = 86_400_000;

export const RENEWAL_DEFAULTS = {
  /** Renew this long before expiry at the latest (Let's Encrypt's advice for 90-day certificates). */
  renewBeforeMs: 30 * DAY_MS,
  /**
   * A short-lived certificate is renewed once a third of its lifetime is left, so a
   * 6-day certificate is not "due" from its first minute.
   */
  renewAtRemainingFraction: 1 / 3,
  /**
   * First retry after a failure. Let's Encrypt allows 5 failed validations per host per
   * hour: 5, 10, 20, 40 minutes stays below that.
   */
  retryMinMs: 5 * 60_000,
  retryMaxMs: 6 * 60 * 60_000,
} as const;

export interface RenewalPolicy {
  renewBeforeMs: number;
  renewAtRemainingFraction: number;
  retryMinMs: number;
  retryMaxMs: number;
}

/** The moment a certificate valid from notBefore to notAfter should be replaced. */
export function renewalTime(notBefore: number, notAfter: number, policy: RenewalPolicy = RENEWAL_DEFAULTS): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  return notAfter - Math.min(policy.renewBeforeMs, lifetime * policy.renewAtRemainingFraction);
}

/** Delay before the next attempt after `failures` consecutive failures (1 = the first). */
export function retryDelay(failures: number, policy: RenewalPolicy = RENEWAL_DEFAULTS): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(policy.retryMaxMs, policy.retryMinMs * 2 ** Math.min(exponent, 30));
}
