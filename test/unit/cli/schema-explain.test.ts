import { describe, expect, it } from 'vitest';
import { ExplainError, explainText, findField, typeName, type SchemaNode } from '../../../src/cli/schema-explain.js';
import { loadSchema } from '../../../src/model/schemas.js';
import { API_VERSION, KINDS } from '../../../src/model/types.js';

// luma explain reads the real schemas: every field of every kind must have a description.

function allPaths(root: SchemaNode, kind: string): string[][] {
  const text = explainText(root, kind, API_VERSION, findField(root, kind, []), true);
  const paths: string[][] = [];
  const stack: string[] = [];
  for (const line of text.split('FIELDS:\n')[1]?.split('\n') ?? []) {
    const match = /^( *)(\S+)\t/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 2 - 1;
    stack.length = depth;
    stack.push(match[2] ?? '');
    paths.push([...stack]);
  }
  return paths;
}

describe('luma explain', () => {
  const project = loadSchema('Project') as SchemaNode;

  it('explains project.spec.scaling with its fields, types and descriptions', () => {
    const text = explainText(project, 'Project', API_VERSION, findField(project, 'Project', ['spec', 'scaling']));
    expect(text).toMatch(
      /^KIND: {7}Project\nVERSION: {4}luma\.dev\/v1alpha1\n\nFIELD: scaling <object>\n\nDESCRIPTION:\n {4}\S/,
    );
    expect(text).toContain('\n  minInstances\t<integer>\n    Containers kept running');
    expect(text).toContain('\n  idleTimeout\t<string>\n');
  });

  it('marks required fields and names arrays and maps as kubectl does', () => {
    const text = explainText(project, 'Project', API_VERSION, findField(project, 'Project', ['spec']));
    expect(text).toContain('  hostnames\t<[]string> -required-');
    expect(typeName(project, findField(project, 'Project', ['metadata', 'labels']).node)).toBe('map[string]string');
  });

  it('refuses an unknown field, naming where it looked and what is there', () => {
    expect(() => findField(project, 'Project', ['spec', 'scalling'])).toThrow(ExplainError);
    expect(() => findField(project, 'Project', ['spec', 'scalling'])).toThrow(
      /field "scalling" does not exist in project\.spec \(its fields: image, hostnames, .*scaling/,
    );
  });

  it.each(KINDS)('finds a description for every field of %s', (kind) => {
    const root = loadSchema(kind) as SchemaNode;
    const paths = allPaths(root, kind);
    expect(paths.length).toBeGreaterThan(10);
    const missing = paths.filter((path) =>
      explainText(root, kind, API_VERSION, findField(root, kind, path)).includes('<no description>'),
    );
    expect(missing.map((path) => path.join('.'))).toEqual([]);
  });
});
