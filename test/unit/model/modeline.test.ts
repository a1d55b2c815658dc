import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/model/parse.js';
import { REPO_ROOT } from '../../support/luma.js';

// `# yaml-language-server: $schema=…` lets editors validate and complete manifests with
// the schemas in schemas/. The examples carry it on every document, pointing at the schema
// of that document's kind, and Luma reads files that carry it like any other.

const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/m;
const examples = path.join(REPO_ROOT, 'manifests');

async function exampleFiles(): Promise<string[]> {
  return (await readdir(examples, { recursive: true }))
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => path.join(examples, file));
}

describe('the yaml-language-server modeline', () => {
  it('is on every document of every example in manifests/, naming the schema of its kind', async () => {
    const files = await exampleFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const documents = text.split(/^---$/m);
      const parsed = parseManifests(text, file);
      expect(parsed).toHaveLength(documents.length);
      documents.forEach((document, index) => {
        const schema = MODELINE.exec(document)?.[1];
        expect(schema, `${file} document ${index + 1} has no modeline`).toBeDefined();
        const kind = parsed[index]?.object.kind.toLowerCase();
        expect(path.resolve(path.dirname(file), schema ?? '')).toBe(
          path.join(REPO_ROOT, 'schemas', `${kind}.schema.json`),
        );
      });
    }
  });

  it('is a comment to the parser, at the top of a file or of any document', () => {
    const text = [
      '# yaml-language-server: $schema=../schemas/project.schema.json',
      'apiVersion: luma.dev/v1alpha1',
      'kind: Project',
      'metadata: {name: a}',
      'spec: {image: busybox, hostnames: [a.localhost]}',
      '---',
      '# yaml-language-server: $schema=https://luma.dev/schemas/v1alpha1/lease.schema.json',
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata: {name: l}',
      'spec: {project: a, ttl: 10m}',
    ].join('\n');
    expect(parseManifests(text, 'app.yaml').map((doc) => doc.object.kind)).toEqual(['Project', 'Lease']);
  });
});
