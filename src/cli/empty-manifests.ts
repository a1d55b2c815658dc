import { isScalar, parseAllDocuments } from 'yaml';

// `kubectl apply` refuses input with no object in it ("no objects passed to apply"):
// an empty pipe or a directory of comments is almost always a mistake upstream (a
// template that rendered nothing, a wrong path), and exiting 0 would hide it.

/** Whether a manifest file declares no document at all (only blanks, comments and `---`). */
export function declaresNothing(content: string): boolean {
  const documents = parseAllDocuments(content, { logLevel: 'silent' });
  // A stream the parser cannot read is for the server to refuse, with positions.
  if (!Array.isArray(documents)) return false;
  // A bare `---` gives a document whose contents are a null scalar: as empty as none.
  return documents.every(
    (document) =>
      document.errors.length === 0 &&
      (document.contents === null || (isScalar(document.contents) && document.contents.value === null)),
  );
}

/** The one-line refusal, naming what was read. */
export function noObjectsMessage(paths: readonly string[]): string {
  const named = paths.map((file) => (file === '-' || file === '<stdin>' ? 'standard input' : file)).join(', ');
  return `no objects passed to apply (nothing but blanks and comments in ${named || 'the input'})`;
}
