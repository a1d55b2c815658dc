import { describe, expect, it } from 'vitest';
import { redactQueryToken, withoutQueryToken } from '../../../src/api/query-token.js';

describe('redactQueryToken', () => {
  it.each([
    ['/a', '/a'],
    ['/a?token=s3cret', '/a?token=[redacted]'],
    ['/a?x=1&token=s3cret&y=2', '/a?x=1&token=[redacted]&y=2'],
    ['/a?%74oken=s3cret', '/a?token=[redacted]'],
    ['/a?token', '/a?token=[redacted]'],
    ['/a?tokens=1&mytoken=2', '/a?tokens=1&mytoken=2'],
    ['/a?token=s3cret#frag', '/a?token=[redacted]#frag'],
    ['/a?%zz=1&token=%E0%A4%A', '/a?%zz=1&token=[redacted]'],
  ])('%s → %s', (url, expected) => expect(redactQueryToken(url)).toBe(expected));
});

describe('withoutQueryToken', () => {
  it.each([
    ['/a?token=T', '/a'],
    ['/a?x=1&token=T', '/a?x=1'],
    ['/a?x=1&%74oken=T&y=2', '/a?x=1&y=2'],
    ['/a?token=other', '/a?token=other'],
    ['/a?token=T+', '/a?token=T+'],
  ])('%s → %s', (url, expected) => expect(withoutQueryToken(url, 'T')).toBe(expected));
});
