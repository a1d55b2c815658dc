import { describe, expect, it } from 'vitest';
import { ManifestError, formatIssue, sortIssues, type ManifestIssue } from '../../../src/model/manifest-error.js';

const issue = (file: string, line: number, column: number, path: string, message: string): ManifestIssue => ({
  file,
  line,
  column,
  path,
  message,
});

describe('formatIssue', () => {
  it('writes file:line:column: path: message', () => {
    expect(formatIssue(issue('a.yaml', 3, 7, 'spec.port', 'expected integer, got string "two"'))).toBe(
      'a.yaml:3:7: spec.port: expected integer, got string "two"',
    );
  });

  it('leaves the path out for the document itself', () => {
    expect(formatIssue(issue('a.yaml', 1, 1, '', 'missing required field "kind"'))).toBe(
      'a.yaml:1:1: missing required field "kind"',
    );
  });
});

describe('sortIssues', () => {
  it('orders by file, line and column and drops repeats', () => {
    const sorted = sortIssues([
      issue('b.yaml', 1, 1, '', 'x'),
      issue('a.yaml', 9, 2, 'spec', 'y'),
      issue('a.yaml', 3, 9, 'spec.port', 'z'),
      issue('a.yaml', 3, 2, 'spec', 'w'),
      issue('a.yaml', 9, 2, 'spec', 'y'),
    ]);
    expect(sorted.map(formatIssue)).toEqual([
      'a.yaml:3:2: spec: w',
      'a.yaml:3:9: spec.port: z',
      'a.yaml:9:2: spec: y',
      'b.yaml:1:1: x',
    ]);
  });
});

describe('ManifestError', () => {
  it('carries the issues and prints one per line', () => {
    const issues = [issue('a.yaml', 1, 1, '', 'first'), issue('a.yaml', 2, 3, 'spec', 'second')];
    const error = new ManifestError(issues);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ManifestError');
    expect(error.issues).toEqual(issues);
    expect(error.message).toBe('a.yaml:1:1: first\na.yaml:2:3: spec: second');
  });
});
