import { describe, expect, it } from 'vitest';
import {
  QuantityError,
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
} from '../../../src/model/quantities.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['1m30s500ms', 90_500],
    ['1.5h', 5_400_000],
    ['0s', 0],
    ['0.5s', 500],
  ])('reads %s as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['10x', '', '5', '-5s', '1 h', '1H', 'm', '1.s', '.5s', '5m ', '1d'])(
    'refuses %j with what it expected',
    (input) => {
      expect(() => parseDuration(input)).toThrow(QuantityError);
      expect(() => parseDuration(input)).toThrow(
        `expected a duration such as 90s, 5m or 1h30m, got ${JSON.stringify(input)}`,
      );
    },
  );

  it('names the input in the error', () => {
    const error = captureQuantityError(() => parseDuration('10x'));
    expect(error.message).toBe('expected a duration such as 90s, 5m or 1h30m, got "10x"');
    expect(error.input).toBe('10x');
    expect(error.name).toBe('QuantityError');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [7_200_000, '2h'],
    [90_500, '1m30s500ms'],
    [86_400_000, '24h'],
    [-1_500, '-1s500ms'],
  ])('writes %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1_000, 61_001, 3_600_000, 3_661_001]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe('parseCpu', () => {
  it.each([
    ['500m', 500],
    ['1.5', 1500],
    ['2', 2000],
    ['0.25', 250],
    ['10m', 10],
    ['1.001', 1001],
  ])('reads %s as %d millicores', (input, millis) => {
    expect(parseCpu(input)).toBe(millis);
  });

  it.each(['abc', '', '1.5m', '-1', '1.0005', '500M', ' 1', '1c'])('refuses %j', (input) => {
    expect(() => parseCpu(input)).toThrow(
      `expected a CPU quantity such as 500m, 1.5 or 2, got ${JSON.stringify(input)}`,
    );
  });

  it('formats whole cores without a suffix and the rest in millicores', () => {
    expect(formatCpu(2000)).toBe('2');
    expect(formatCpu(1500)).toBe('1500m');
    expect(formatCpu(10)).toBe('10m');
  });
});

describe('parseMemory', () => {
  it.each([
    ['256Mi', 256 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['512M', 512_000_000],
    ['1000000', 1_000_000],
    ['64Ki', 65_536],
    ['1k', 1000],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1Ti', 2 ** 40],
    ['0.1Ki', 103],
  ])('reads %s as %d bytes', (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes);
  });

  it.each(['256m', '1g', '1GB', '', 'Mi', '-1Mi', '1 Mi', '1KI'])('refuses %j', (input) => {
    expect(() => parseMemory(input)).toThrow(
      `expected a memory size such as 256Mi, 1Gi or 512M, got ${JSON.stringify(input)}`,
    );
  });

  it.each([
    [0, '0'],
    [256 * 2 ** 20, '256Mi'],
    [2 ** 30, '1Gi'],
    [512_000_000, '512M'],
    [1_000_001, '1000001'],
    [65_536, '64Ki'],
    [6 * 2 ** 20, '6Mi'],
  ])('formats %d bytes as %s', (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
    expect(parseMemory(text)).toBe(bytes);
  });
});

function captureQuantityError(fn: () => unknown): QuantityError {
  try {
    fn();
  } catch (error) {
    if (error instanceof QuantityError) return error;
    throw error;
  }
  throw new Error('expected a QuantityError');
}
