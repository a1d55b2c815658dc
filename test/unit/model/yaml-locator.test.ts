import { LineCounter, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { YamlLocator } from '../../../src/model/yaml-locator.js';

function locate(text: string): YamlLocator {
  const lineCounter = new LineCounter();
  return new YamlLocator(parseDocument(text, { lineCounter }), lineCounter);
}

const locator = locate(
  [
    'spec:', // 1
    '  port: 8080', // 2
    '  version: 1.10', // 3
    '  env: &env', // 4
    '    A: "1"', // 5
    '  copy: *env', // 6
    '  list:', // 7
    '    - first', // 8
    '    - { name: second }', // 9
    '  empty:', // 10
    '',
  ].join('\n'),
);

describe('YamlLocator', () => {
  it('points at values, and at keys for block collections and empty values', () => {
    expect(locator.position(['spec', 'port'])).toEqual({ line: 2, column: 9 });
    expect(locator.position(['spec', 'env'])).toEqual({ line: 4, column: 3 });
    expect(locator.position(['spec', 'empty'])).toEqual({ line: 10, column: 3 });
    expect(locator.position(['spec', 'list', 1, 'name'])).toEqual({ line: 9, column: 15 });
  });

  it('points at keys when asked', () => {
    expect(locator.keyPosition(['spec', 'port'])).toEqual({ line: 2, column: 3 });
    expect(locator.keyPosition(['spec', 'list', 0])).toEqual({ line: 8, column: 7 });
    // A key that is not there: the nearest enclosing field.
    expect(locator.keyPosition(['spec', 'nope'])).toEqual({ line: 1, column: 1 });
  });

  it('walks through aliases to the anchored value', () => {
    expect(locator.position(['spec', 'copy', 'A'])).toEqual({ line: 5, column: 8 });
  });

  it('returns scalars as written', () => {
    expect(locator.scalarSource(['spec', 'version'])).toBe('1.10');
    expect(locator.scalarSource(['spec', 'port'])).toBe('8080');
    expect(locator.scalarSource(['spec', 'env'])).toBeUndefined();
    expect(locator.scalarSource(['spec', 'missing'])).toBeUndefined();
  });

  it('converts offsets', () => {
    expect(locator.offsetPosition(0)).toEqual({ line: 1, column: 1 });
    expect(locator.offsetPosition(8)).toEqual({ line: 2, column: 3 });
  });
});
