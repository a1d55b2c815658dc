import { parseDuration, QuantityError } from '../model/quantities.js';

// `since` as users write it: an RFC 3339 time, or a duration meaning that long ago.

export const SINCE_EXPECTED = 'an RFC 3339 time such as 2026-01-02T15:04:05Z or a duration such as 10m';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/** The RFC 3339 time meant (a given time is kept as written, nanoseconds and all); undefined when it is neither form. */
export function resolveSince(value: string, now: number): string | undefined {
  if (RFC3339.test(value)) return Number.isFinite(Date.parse(value)) ? value : undefined;
  try {
    return new Date(now - parseDuration(value)).toISOString();
  } catch (error) {
    if (error instanceof QuantityError) return undefined;
    throw error;
  }
}
