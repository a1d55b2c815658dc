import { describe, expect, it } from 'vitest';
import { formatPath, isWithin, pathFromPointer, valueAt } from '../../../src/model/field-path.js';

describe('formatPath', () => {
  it.each([
    [[], ''],
    [['spec'], 'spec'],
    [['spec', 'scaling', 'minInstances'], 'spec.scaling.minInstances'],
    [['spec', 'hostnames', 1], 'spec.hostnames[1]'],
    [['metadata', 'labels', 'example.com/tier'], 'metadata.labels["example.com/tier"]'],
    [['spec', 'env', '1ST'], 'spec.env["1ST"]'],
    [['spec', 'env', 'my-var'], 'spec.env.my-var'],
    [[0, 'a'], '[0].a'],
  ])('%j → %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('pathFromPointer', () => {
  const data = { spec: { hostnames: ['a', 'b'], env: { '1': 'x', 'a/b': 'y', 'c~d': 'z' } } };

  it('types indexes into lists as numbers and map keys as strings', () => {
    expect(pathFromPointer('', data)).toEqual([]);
    expect(pathFromPointer('/spec/hostnames/1', data)).toEqual(['spec', 'hostnames', 1]);
    expect(pathFromPointer('/spec/env/1', data)).toEqual(['spec', 'env', '1']);
  });

  it('unescapes ~1 and ~0', () => {
    expect(pathFromPointer('/spec/env/a~1b', data)).toEqual(['spec', 'env', 'a/b']);
    expect(pathFromPointer('/spec/env/c~0d', data)).toEqual(['spec', 'env', 'c~d']);
  });
});

describe('valueAt and isWithin', () => {
  it('reads along a path and stops where it leads nowhere', () => {
    const data = { spec: { hostnames: ['a', 'b'] } };
    expect(valueAt(data, ['spec', 'hostnames', 1])).toBe('b');
    expect(valueAt(data, ['spec', 'missing', 'deeper'])).toBeUndefined();
    expect(valueAt(data, ['spec', 'hostnames', 'length'])).toBeUndefined();
    expect(valueAt({}, ['toString'])).toBeUndefined();
  });

  it('tells whether a path lies at or below another', () => {
    expect(isWithin(['spec', 'scaling', 'idleTimeout'], ['spec', 'scaling'])).toBe(true);
    expect(isWithin(['spec', 'scaling'], ['spec', 'scaling'])).toBe(true);
    expect(isWithin(['spec'], ['spec', 'scaling'])).toBe(false);
    expect(isWithin(['spec', 'scalingX'], ['spec', 'scaling'])).toBe(false);
  });
});
