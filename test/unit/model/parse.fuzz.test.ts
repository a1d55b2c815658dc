import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifests } from '../../../src/model/parse.js';
import { manifestText, objectShape } from '../../support/fuzz/manifest-arbitraries.js';
import { stringify } from 'yaml';

// Property-based: whatever text or object shape is given, the parser either returns
// validated documents or throws a ManifestError whose every issue has a position (the
// file, line and column a user needs), never another error. Runs LUMA_FUZZ_RUNS cases
// per property (default 2,000).

const RUNS = Number(process.env.LUMA_FUZZ_RUNS ?? 2_000);
const KINDS = new Set(['Project', 'Image', 'Lease']);

function checkParse(text: string): void {
  try {
    const documents = parseManifests(text, 'fuzz.yaml');
    for (const document of documents) {
      expect(KINDS.has(document.object.kind)).toBe(true);
      expect(document.object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(issue.file).toBe('fuzz.yaml');
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.column).toBeGreaterThanOrEqual(1);
      expect(issue.message.length).toBeGreaterThan(0);
    }
  }
}

describe('manifest parsing under fuzzing', () => {
  it(
    'any manifest text: documents or a ManifestError with positions, nothing else',
    { timeout: Math.max(120_000, RUNS * 50) },
    () => {
      fc.assert(fc.property(manifestText, checkParse), { numRuns: RUNS });
    },
  );

  it('any object shape written as YAML: the same', { timeout: Math.max(120_000, RUNS * 50) }, () => {
    fc.assert(
      fc.property(objectShape, (object) => checkParse(stringify(object))),
      { numRuns: RUNS },
    );
  });
});
