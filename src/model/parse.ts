import { LineCounter, isCollection, isScalar, parseAllDocuments, visit, type Document, type YAMLError } from 'yaml';
import { formatPath, type FieldIssue, type FieldPath } from './field-path.js';
import { ManifestError, sortIssues, type ManifestIssue } from './manifest-error.js';
import type { LumaObject, SourceRef } from './types.js';
import { validateManifest } from './validate.js';
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
 */
export function parseManifests(text: string, source: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  // logLevel: problems are reported as issues, never printed on the console by yaml.
  const stream = parseAllDocuments(text, { lineCounter, prettyErrors: false, logLevel: 'silent' });
  const issues: ManifestIssue[] = [];
  const documents: ParsedDocument[] = [];

  if ('empty' in stream) {
    const problems = [...stream.errors, ...stream.warnings];
    for (const problem of problems) issues.push(yamlIssue(source, problem, lineCounter));
  }

  stream.forEach((document, index) => {
    const locator = new YamlLocator(document, lineCounter);
    const problems = [...document.errors, ...document.warnings];
    issues.push(...problems.map((problem) => yamlIssue(source, problem, lineCounter)));
    // Past a syntax error (or an unresolved tag, which changes what a value means),
    // validation would only add guesses to the real problem.
    if (problems.length > 0 || isEmptyDocument(document)) return;

    const complexKeys = collectionKeyOffsets(document);
    if (complexKeys.length > 0) {
      for (const offset of complexKeys) {
        const { line, column } = locator.offsetPosition(offset);
        issues.push({
          file: source,
          line,
          column,
          path: '',
          message: 'expected a plain key, got a list or mapping as a key',
        });
      }
      return;
    }

    let value: unknown;
    try {
      value = document.toJS();
    } catch (error) {
      // e.g. an alias expanded too many times ("billion laughs").
      issues.push(locate(source, locator, { path: [], message: `cannot read this document: ${messageOf(error)}` }));
      return;
    }
    const result = validateManifest(value, (path) => locator.scalarSource(path));
    issues.push(...result.issues.map((issue) => locate(source, locator, issue)));
    if (result.object) {
      documents.push({
        object: result.object,
        source: { file: source, document: index },
        position: (path) => locator.position(path),
      });
    }
  });

  if (issues.length > 0) throw new ManifestError(sortIssues(issues));
  return documents;
}

/** Nothing but `---`, comments or whitespace. */
function isEmptyDocument(document: Document.Parsed): boolean {
  const contents = document.contents;
  return (
    contents === null ||
    (isScalar(contents) && contents.value === null && contents.source === '' && contents.tag === undefined)
  );
}

/** `? [a, b]: c` is valid YAML, but no manifest field has such a key. */
function collectionKeyOffsets(document: Document.Parsed): number[] {
  const offsets: number[] = [];
  visit(document, {
    Pair(_, pair) {
      if (isCollection(pair.key)) offsets.push(pair.key.range?.[0] ?? 0);
    },
  });
  return offsets;
}

function locate(file: string, locator: YamlLocator, issue: FieldIssue): ManifestIssue {
  const at = issue.at ?? { path: issue.path };
  const { line, column } = at.key ? locator.keyPosition(at.path) : locator.position(at.path);
  return { file, line, column, path: formatPath(issue.path), message: issue.message };
}

function yamlIssue(file: string, problem: YAMLError, lineCounter: LineCounter): ManifestIssue {
  const { line, col } = lineCounter.linePos(problem.pos[0]);
  const text = problem.message.replace(/\s+/g, ' ').trim();
  return {
    file,
    line,
    column: col,
    path: '',
    message: `invalid YAML: ${text.charAt(0).toLowerCase()}${text.slice(1)}`,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
