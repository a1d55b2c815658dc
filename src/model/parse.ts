import { LineCounter, parseAllDocuments } from 'yaml';
import type { FieldPath } from './field-path.js';
import { ManifestError, sortIssues, type ManifestIssue } from './manifest-error.js';
import type { LumaObject, SourceRef } from './types.js';
import { readPlainYaml } from './plain-yaml.js';
import { validateManifest } from './validate.js';
import { locate, readDocument, yamlIssue } from './yaml-document.js';
import { YamlLocator, type Position } from './yaml-locator.js';

// Manifest text (multi-document YAML, or JSON, which is YAML too) → validated Luma
// objects that remember where each of their fields was written. Every problem in the
// text is collected before anything is returned, so one run shows them all.

export { ManifestError, formatIssue, type ManifestIssue } from './manifest-error.js';
export type { Position } from './yaml-locator.js';
export type { FieldPath, PathSegment } from './field-path.js';

export interface ParsedDocument {
  /** Without `status` and the server-set metadata; `metadata.resourceVersion` is kept. */
  object: LumaObject;
  source: SourceRef;
  /** Where the field at `path` is written, for errors found by later layers. */
  position(path: FieldPath): Position;
}

/**
 * Parses and validates every document in `text`; `source` names it in messages (a file
 * path, or e.g. "request body"). Empty documents are skipped. Throws ManifestError with
 * every issue, sorted by position, if any document has one.
 *
 * Text in the plain subset of YAML (plain-yaml.ts) whose documents are all valid is read
 * without `yaml`'s syntax tree; anything else, and every refusal, goes through
 * parseManifestsWithPositions, so messages carry their line and column as before.
 */
export function parseManifests(text: string, source: string): ParsedDocument[] {
  return parsePlainManifests(text, source) ?? parseManifestsWithPositions(text, source);
}

/** Valid documents read by the fast reader; undefined when it declines or any document has an issue. */
function parsePlainManifests(text: string, source: string): ParsedDocument[] | undefined {
  const values = readPlainYaml(text);
  if (values === undefined) return undefined;
  const positions = new LazyPositions(text);
  const documents: ParsedDocument[] = [];
  for (const [index, value] of values.entries()) {
    if (value === undefined) continue;
    const result = validateManifest(value);
    if (!result.object || result.issues.length > 0) return undefined;
    documents.push({
      object: result.object,
      source: { file: source, document: index },
      position: (path) => positions.locator(index).position(path),
    });
  }
  return documents;
}

/** parseManifests with `yaml`'s syntax tree for every document: the reference the fast reader must agree with. */
export function parseManifestsWithPositions(text: string, source: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  // logLevel: problems are reported as issues, never printed on the console by yaml.
  const stream = parseAllDocuments(text, { lineCounter, prettyErrors: false, logLevel: 'silent' });
  const issues: ManifestIssue[] = [];
  const documents: ParsedDocument[] = [];

  if ('empty' in stream) {
    const offsetPosition = (offset: number): Position => {
      const { line, col } = lineCounter.linePos(offset);
      return { line, column: col };
    };
    for (const problem of [...stream.errors, ...stream.warnings])
      issues.push(yamlIssue(source, problem, { offsetPosition }));
  }

  const positions = new LazyPositions(text);
  stream.forEach((document, index) => {
    const locator = new YamlLocator(document, lineCounter);
    const read = readDocument(document, locator, source);
    issues.push(...read.issues);
    if (read.issues.length > 0 || read.value === undefined) return;
    const result = validateManifest(read.value, (path) => locator.scalarSource(path));
    issues.push(...result.issues.map((issue) => locate(source, locator, issue)));
    if (result.object) {
      documents.push({
        object: result.object,
        source: { file: source, document: index },
        position: (path) => positions.locator(index).position(path),
      });
    }
  });

  if (issues.length > 0) throw new ManifestError(sortIssues(issues));
  return documents;
}

/**
 * Positions of valid documents, asked for only when a later layer finds a problem (a
 * hostname taken, a conflict): the text is parsed again then. Keeping every parsed
 * document's syntax tree alive instead held 10,000 of them through a whole apply.
 */
class LazyPositions {
  private locators: YamlLocator[] | undefined;

  constructor(private readonly text: string) {}

  locator(index: number): YamlLocator {
    if (!this.locators) {
      const lineCounter = new LineCounter();
      const stream = parseAllDocuments(this.text, { lineCounter, prettyErrors: false, logLevel: 'silent' });
      this.locators = stream.map((document) => new YamlLocator(document, lineCounter));
    }
    const locator = this.locators[index];
    if (!locator) throw new Error(`document ${index} is not in the text parsed again`);
    return locator;
  }
}
