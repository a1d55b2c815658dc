import { resolveSince, SINCE_EXPECTED } from '../logs/since.js';
import { BadRequestError } from './errors.js';

// The query of a log request (`?follow=true&tail=100&since=10m&timestamps=false`), checked
// before anything is read: a mistyped parameter is named, never ignored.

export interface LogQuery {
  follow: boolean;
  /** Per instance: the last N lines written so far. */
  tail?: number;
  /** RFC 3339; a duration in the query (`10m`) becomes that long before now. */
  since?: string;
  /** Plain-text answers only: start each line with its time (on by default). */
  timestamps: boolean;
}

const KNOWN = ['follow', 'tail', 'since', 'timestamps'];
/** Docker counts tail lines in an int; more than this is "all" in practice. */
const MAX_TAIL = 1_000_000_000;

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  throw new BadRequestError(`query parameter ${name}: expected true or false, got ${JSON.stringify(value)}`);
}

function tail(value: unknown): number | undefined {
  if (value === undefined || value === 'all') return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) > MAX_TAIL) {
    throw new BadRequestError(
      `query parameter tail: expected a whole number of lines (0 or more) or "all", got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

function since(value: unknown, now: number): string | undefined {
  if (value === undefined) return undefined;
  const resolved = typeof value === 'string' ? resolveSince(value, now) : undefined;
  if (resolved === undefined)
    throw new BadRequestError(`query parameter since: expected ${SINCE_EXPECTED}, got ${JSON.stringify(value)}`);
  return resolved;
}

export function parseLogQuery(query: Record<string, unknown>, now: number): LogQuery {
  for (const [name, value] of Object.entries(query)) {
    if (!KNOWN.includes(name))
      throw new BadRequestError(`unknown query parameter "${name}" (known: ${KNOWN.join(', ')})`);
    if (Array.isArray(value)) throw new BadRequestError(`query parameter ${name} is given more than once`);
  }
  const parsed: LogQuery = {
    follow: flag('follow', query.follow, false),
    timestamps: flag('timestamps', query.timestamps, true),
  };
  const lines = tail(query.tail);
  if (lines !== undefined) parsed.tail = lines;
  const from = since(query.since, now);
  if (from !== undefined) parsed.since = from;
  return parsed;
}
