import { describe, expect, it } from 'vitest';
import { parseLogQuery } from '../../../src/api/log-query.js';

describe('parseLogQuery', () => {
  const now = Date.UTC(2026, 0, 2, 12, 0, 0);

  it('reads follow, tail, since and timestamps, with timestamps on by default', () => {
    expect(parseLogQuery({}, now)).toEqual({ follow: false, timestamps: true });
    expect(
      parseLogQuery({ follow: 'true', tail: '20', since: '2026-01-02T11:00:00.123456789Z', timestamps: 'false' }, now),
    ).toEqual({
      follow: true,
      tail: 20,
      since: '2026-01-02T11:00:00.123456789Z',
      timestamps: false,
    });
    expect(parseLogQuery({ follow: '1', tail: 'all' }, now)).toEqual({ follow: true, timestamps: true });
  });

  it('turns a duration into the time that long ago', () => {
    expect(parseLogQuery({ since: '1h30m' }, now).since).toBe('2026-01-02T10:30:00.000Z');
  });

  it('names the parameter and the value it refuses', () => {
    expect(() => parseLogQuery({ follow: 'yes' }, now)).toThrow(
      'query parameter follow: expected true or false, got "yes"',
    );
    expect(() => parseLogQuery({ tail: '-1' }, now)).toThrow(
      'query parameter tail: expected a whole number of lines (0 or more) or "all", got "-1"',
    );
    expect(() => parseLogQuery({ since: 'yesterday' }, now)).toThrow(
      'query parameter since: expected an RFC 3339 time such as 2026-01-02T15:04:05Z or a duration such as 10m, got "yesterday"',
    );
    expect(() => parseLogQuery({ since: '2026-13-40T00:00:00Z' }, now)).toThrow('query parameter since');
    expect(() => parseLogQuery({ folow: 'true' }, now)).toThrow(
      'unknown query parameter "folow" (known: follow, tail, since, timestamps)',
    );
    expect(() => parseLogQuery({ tail: ['1', '2'] }, now)).toThrow('query parameter tail is given more than once');
  });
});
