import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifests, parseManifestsWithPositions } from '../../../src/model/parse.js';
import { readPlainYaml } from '../../../src/model/plain-yaml.js';
import { manifestText, plainManifestText } from '../../support/fuzz/manifest-arbitraries.js';
import { yamlReading } from '../../support/yaml-reference.js';

// Differential: on any text, the fast reader declines or reads what `yaml` reads, and
// parseManifests (fast reader first) accepts and refuses exactly what the position-keeping
// parser alone does, with the same objects and the same issues (file:line:column, path,
// message). Runs LUMA_FUZZ_RUNS cases per property (default 2,000).

const RUNS = Number(process.env.LUMA_FUZZ_RUNS ?? 2_000);
const anyText = fc.oneof(plainManifestText, manifestText);

type Outcome = { documents: unknown } | { issues: unknown };

function outcome(parse: (text: string, source: string) => ReturnType<typeof parseManifests>, text: string): Outcome {
  try {
    const documents = parse(text, 'fuzz.yaml').map(({ object, source }) => ({ object, source }));
    return { documents };
  } catch (error) {
    if (error instanceof ManifestError) return { issues: error.issues };
    throw error;
  }
}

describe('the fast manifest reader under fuzzing', () => {
  it('reads what yaml reads, or declines', { timeout: Math.max(120_000, RUNS * 50) }, () => {
    let answered = 0;
    fc.assert(
      fc.property(plainManifestText, (text) => {
        const answer = readPlainYaml(text);
        if (answer === undefined) return;
        answered += 1;
        expect(answer).toStrictEqual(yamlReading(text));
        expect(JSON.stringify(answer)).toBe(JSON.stringify(yamlReading(text)));
      }),
      { numRuns: RUNS },
    );
    // The property means something only if the reader answers often: yaml's own output mostly.
    expect(answered).toBeGreaterThan(RUNS / 5);
  });

  it('parseManifests accepts and refuses what the full parser does', { timeout: Math.max(120_000, RUNS * 50) }, () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(outcome(parseManifests, text)).toStrictEqual(outcome(parseManifestsWithPositions, text));
      }),
      { numRuns: RUNS },
    );
  });
});
