import { describe, expect, it } from 'vitest';
import type { FieldPath } from '../../../src/model/field-path.js';
import { parseManifests } from '../../../src/model/parse.js';
import { fromPortable, toPortable } from '../../../src/sync/portable-document.js';

// A document sent from the scan's worker as plain data answers every position as the
// parsed document it came from: fields written, fields left out, block and flow layouts.

const TEXT = `# a comment
apiVersion: luma.dev/v1alpha1
kind: Project
metadata:
  name: shop
  labels: { tier: web, "example.com/owner": team-a }
spec:
  image: busybox
  hostnames:
    - shop.localhost
    - www.shop.localhost
  env:
    A: "1"
  scaling:
    minInstances: 0
`;

const PATHS: FieldPath[] = [
  [],
  ['metadata'],
  ['metadata', 'name'],
  ['metadata', 'labels', 'example.com/owner'],
  ['spec', 'hostnames'],
  ['spec', 'hostnames', 1],
  ['spec', 'env', 'A'],
  ['spec', 'scaling', 'minInstances'],
  // Left out: the nearest enclosing field that is written.
  ['spec', 'scaling', 'idleTimeout'],
  ['spec', 'hostnames', 7],
  ['spec', 'build', 'context'],
];

describe('portable documents', () => {
  it('answer positions as the parsed document does, after a structured clone', () => {
    const [parsed] = parseManifests(TEXT, 'shop.yaml');
    if (!parsed) throw new Error('no document');
    const portable = fromPortable(structuredClone(toPortable(parsed)));
    expect(portable.object).toEqual(parsed.object);
    expect(portable.source).toEqual({ file: 'shop.yaml', document: 0 });
    for (const path of PATHS) expect(portable.position(path), JSON.stringify(path)).toEqual(parsed.position(path));
  });

  it('keep each document of a file apart', () => {
    const documents = parseManifests(`${TEXT}---\n${TEXT.replace(/shop/g, 'blog')}`, 'two.yaml');
    const portable = documents.map((doc) => fromPortable(toPortable(doc)));
    expect(portable.map((doc) => doc.source.document)).toEqual([0, 1]);
    expect(portable[1]?.position(['metadata', 'name'])).toEqual(documents[1]?.position(['metadata', 'name']));
    expect(portable[1]?.position(['metadata', 'name']).line).toBe(21);
  });
});
