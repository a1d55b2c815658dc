import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../../src/logs/log-format.js';

describe('formatLogLine', () => {
  const record = {
    instance: 'web-a1b2c3',
    stream: 'stdout' as const,
    time: '2026-01-02T03:04:05.123456789Z',
    line: 'GET / 200',
  };

  it('puts the instance first, then the RFC 3339 time, then the line', () => {
    expect(formatLogLine(record, { prefix: true, timestamps: true })).toBe(
      '[web-a1b2c3] 2026-01-02T03:04:05.123456789Z GET / 200',
    );
  });

  it('leaves out what is not asked for', () => {
    expect(formatLogLine(record, { prefix: false, timestamps: true })).toBe('2026-01-02T03:04:05.123456789Z GET / 200');
    expect(formatLogLine(record, { prefix: true, timestamps: false })).toBe('[web-a1b2c3] GET / 200');
    expect(formatLogLine(record, { prefix: false, timestamps: false })).toBe('GET / 200');
  });
});
