import { describe, expect, it } from 'vitest';
import { declaresNothing, noObjectsMessage } from '../../../src/cli/empty-manifests.js';

// `luma apply` refuses input that declares no object, as kubectl does; anything else,
// broken YAML included, goes to the server (which refuses it with positions).

describe('declaresNothing', () => {
  it.each([[''], ['\n\n'], ['# only a comment\n'], ['---\n'], ['# a\n---\n# b\n---\n'], ['null\n']])(
    '%j declares nothing',
    (text) => {
      expect(declaresNothing(text)).toBe(true);
    },
  );

  it.each([['kind: Project\n'], ['---\nkind: Image\n---\n'], ['a: [\n'], ['just words\n']])(
    '%j declares something (or is the server’s to refuse)',
    (text) => {
      expect(declaresNothing(text)).toBe(false);
    },
  );

  it('names what was read, standard input in words', () => {
    expect(noObjectsMessage(['-'])).toBe(
      'no objects passed to apply (nothing but blanks and comments in standard input)',
    );
    expect(noObjectsMessage(['a.yaml', 'dir/'])).toBe(
      'no objects passed to apply (nothing but blanks and comments in a.yaml, dir/)',
    );
  });
});
