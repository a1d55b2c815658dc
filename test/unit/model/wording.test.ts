import { describe, expect, it } from 'vitest';
import { closestMatch, describeValue, expectedType, listWords, quote, typeName } from '../../../src/model/wording.js';

describe('wording', () => {
  it('describes found values with their type', () => {
    expect(describeValue('two')).toBe('string "two"');
    expect(describeValue(3)).toBe('integer 3');
    expect(describeValue(1.5)).toBe('number 1.5');
    expect(describeValue(true)).toBe('boolean true');
    expect(describeValue(null)).toBe('an empty value');
    expect(describeValue([1])).toBe('a list');
    expect(describeValue({ a: 1 })).toBe('a mapping');
    expect(typeName({})).toBe('mapping');
  });

  it('shortens long strings', () => {
    expect(quote('x'.repeat(100))).toBe(`"${'x'.repeat(60)}…"`);
  });

  it('words schema types', () => {
    expect(expectedType('object')).toBe('a mapping');
    expect(expectedType(['string', 'null'])).toBe('string or an empty value');
  });

  it('joins lists of words', () => {
    expect(listWords(['"a"'])).toBe('"a"');
    expect(listWords(['"a"', '"b"'], 'or')).toBe('"a" or "b"');
    expect(listWords(['a', 'b', 'c'])).toBe('a, b and c');
  });

  it('suggests a close match only', () => {
    const fields = ['image', 'hostnames', 'port', 'scaling'];
    expect(closestMatch('hostname', fields)).toBe('hostnames');
    expect(closestMatch('Image', fields)).toBe('image');
    expect(closestMatch('replicas', fields)).toBeUndefined();
    expect(closestMatch('prot', fields)).toBe('port');
  });
});
