import { describe, expect, it } from 'vitest';
import { ago, duration } from '../../../console/src/format.js';

const NOW = Date.parse('2026-12-07T08:00:00Z');
const at = (offsetSeconds: number): string => new Date(NOW + offsetSeconds * 1000).toISOString();

describe('ago', () => {
  it.each([
    [-0.4, 'just now'],
    [-1, 'just now'],
    [-1.6, 'just now'],
    [1, 'just now'],
    [5, '5s ago'],
    [125, '2m 05s ago'],
    [-30, 'in 30s'],
  ])('a time %s s ago reads %j', (offset, expected) => {
    expect(ago(at(-offset), NOW)).toBe(expected);
  });

  it('reads a missing time as a dash', () => {
    expect(ago(undefined, NOW)).toBe('—');
  });
});

describe('duration', () => {
  it.each([
    [12, '12s'],
    [245, '4m 05s'],
    [3720, '1h 02m'],
    [-3, '0s'],
  ])('%s s reads %j', (seconds, expected) => {
    expect(duration(seconds)).toBe(expected);
  });
});
