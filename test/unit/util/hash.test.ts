import { describe, expect, it } from 'vitest';
import { canonicalJson, shortHash } from '../../../src/util/hash.js';

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } };
    const b = { a: { c: 'x', d: [1, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('keeps the order of arrays', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('drops undefined properties, so an absent field and an undefined one are the same', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
  });

  it('serialises scalars as JSON does', () => {
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(3)).toBe('3');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
  });
});

describe('shortHash', () => {
  it('is a 12-character hex digest by default, equal for equal values in any key order', () => {
    const hash = shortHash({ env: { B: '2', A: '1' }, image: 'x' });
    expect(hash).toMatch(/^[0-9a-f]{12}$/);
    expect(shortHash({ image: 'x', env: { A: '1', B: '2' } })).toBe(hash);
  });

  it('changes when a value changes', () => {
    expect(shortHash({ env: { A: '1' } })).not.toBe(shortHash({ env: { A: '2' } }));
  });

  it('takes the length asked for', () => {
    expect(shortHash('x', 20)).toHaveLength(20);
    expect(shortHash('x', 20).startsWith(shortHash('x'))).toBe(true);
  });
});
