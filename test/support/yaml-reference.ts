import { isScalar, parseAllDocuments, type Document } from 'yaml';
import type { PlainDocument } from '../../src/model/plain-yaml.js';

// What `yaml` reads from a text, in the form the fast reader answers with: the value of
// each document, undefined for an empty one; undefined for the whole text when any
// document has an error or a warning. The fast reader may decline any text, but where it
// answers it must answer this.

function isEmpty(document: Document.Parsed): boolean {
  const contents = document.contents;
  return contents === null || (isScalar(contents) && contents.value === null && contents.source === '');
}

export function yamlReading(text: string): PlainDocument[] | undefined {
  const stream = parseAllDocuments(text, { prettyErrors: false, logLevel: 'silent' });
  if ('empty' in stream) return stream.errors.length + stream.warnings.length === 0 ? [] : undefined;
  if (stream.some((document) => document.errors.length + document.warnings.length > 0)) return undefined;
  return stream.map((document) => (isEmpty(document) ? undefined : (document.toJS() as PlainDocument)));
}
