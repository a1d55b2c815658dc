import { describe, expect, it } from 'vitest';
import { ManifestError, formatIssue, parseManifests } from '../../../src/model/parse.js';

// spec.traffic as a manifest declares it: each refusal pinned as `file:line:column: path: message`.

/** A valid Project named web; traffic lines (indented by two) are appended from line 8 on. */
function project(...lines: string[]): string {
  return [
    'apiVersion: luma.dev/v1alpha1', // 1
    'kind: Project', // 2
    'metadata:', // 3
    '  name: web', // 4
    'spec:', // 5
    '  image: web', // 6
    '  hostnames: [web.localhost]', // 7
    ...lines,
    '',
  ].join('\n');
}

function errorsOf(source: string): string[] {
  try {
    parseManifests(source, 'web.yaml');
  } catch (error) {
    if (error instanceof ManifestError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
}

describe('spec.traffic', () => {
  it('accepts a split between a named revision and the latest ready one, with a tag', () => {
    const source = project(
      '  traffic:',
      '    - { revisionName: web-1, percent: 90 }',
      '    - { latestRevision: true, percent: 10, tag: canary }',
    );
    expect(errorsOf(source)).toEqual([]);
    const [doc] = parseManifests(source, 'web.yaml');
    expect(doc?.object.kind === 'Project' && doc.object.spec.traffic).toEqual([
      { revisionName: 'web-1', percent: 90 },
      { latestRevision: true, percent: 10, tag: 'canary' },
    ]);
  });

  it('refuses percents that do not sum to 100, at the list', () => {
    expect(errorsOf(project('  traffic:', '    - { revisionName: web-1, percent: 90 }'))).toEqual([
      'web.yaml:8:3: spec.traffic: expected percents that sum to 100, got 90',
    ]);
  });

  it('refuses a percent out of range or not whole', () => {
    expect(errorsOf(project('  traffic:', '    - { latestRevision: true, percent: 101 }'))).toEqual([
      'web.yaml:9:40: spec.traffic[0].percent: expected an integer between 0 and 100, got 101',
    ]);
    expect(errorsOf(project('  traffic:', '    - { latestRevision: true, percent: 99.5 }'))).toHaveLength(1);
  });

  it('refuses an entry that names no revision, or both ways', () => {
    const neither = errorsOf(project('  traffic:', '    - { percent: 100 }'));
    expect(neither).toEqual([
      'web.yaml:9:7: spec.traffic[0]: missing required field: set one of "revisionName" or "latestRevision"',
    ]);
    const both = errorsOf(project('  traffic:', '    - { revisionName: web-1, latestRevision: true, percent: 100 }'));
    expect(both).toEqual([
      'web.yaml:9:30: spec.traffic[0]: "revisionName" and "latestRevision" cannot both be set; choose one',
    ]);
  });

  it("refuses another project's revision", () => {
    expect(errorsOf(project('  traffic:', '    - { revisionName: api-1, percent: 100 }'))).toEqual([
      'web.yaml:9:23: spec.traffic[0].revisionName: expected a revision of project "web" (like "web-1"), got "api-1"',
    ]);
  });

  it('refuses a tag given twice, at the second', () => {
    const source = project(
      '  traffic:',
      '    - { revisionName: web-1, percent: 50, tag: try }',
      '    - { latestRevision: true, percent: 50, tag: try }',
    );
    expect(errorsOf(source)).toEqual([
      'web.yaml:10:49: spec.traffic[1].tag: tag "try" is already given at spec.traffic[0]',
    ]);
  });

  it('refuses a tag with a double hyphen (it would make tag hostnames ambiguous)', () => {
    const errors = errorsOf(project('  traffic:', '    - { latestRevision: true, percent: 100, tag: a--b }'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^web\.yaml:9:50: spec\.traffic\[0\]\.tag: /);
  });
});
