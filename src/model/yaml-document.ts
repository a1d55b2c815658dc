import { LineCounter, isCollection, isScalar, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { formatPath, type FieldIssue, type FieldPath } from './field-path.js';
import type { ManifestIssue } from './manifest-error.js';
import { issuesFromSchemaErrors } from './schema-issues.js';
import { validatorForFile } from './schemas.js';
import { YamlLocator } from './yaml-locator.js';
import { errorMessage } from '../util/error-message.js';

// One parsed YAML document → its plain value, or the issues that stop it being read, each
// placed at file:line:column. Shared by manifests (many documents, one schema per kind)
// and single-document files checked against a schema of their own (operator settings).

export interface DocumentValue {
  /** Absent when the document is empty or could not be read. */
  value?: unknown;
  issues: ManifestIssue[];
}

/** Syntax problems, collection keys and aliases that expand too far are issues; an empty document is no value. */
export function readDocument(document: Document.Parsed, locator: YamlLocator, source: string): DocumentValue {
  const problems = [...document.errors, ...document.warnings];
  // Past a syntax error (or an unresolved tag, which changes what a value means),
  // validation would only add guesses to the real problem.
  if (problems.length > 0) return { issues: problems.map((problem) => yamlIssue(source, problem, locator)) };
  if (isEmptyDocument(document)) return { issues: [] };
  const complexKeys = collectionKeyOffsets(document);
  if (complexKeys.length > 0) {
    const issues = complexKeys.map((offset) => ({
      file: source,
      ...locator.offsetPosition(offset),
      path: '',
      message: 'expected a plain key, got a list or mapping as a key',
    }));
    return { issues };
  }
  try {
    return { value: document.toJS(), issues: [] };
  } catch (error) {
    // e.g. an alias expanded too many times ("billion laughs").
    const message = `cannot read this document: ${errorMessage(error)}`;
    return { issues: [locate(source, locator, { path: [], message })] };
  }
}

/** Checks that run after the schema, told which paths the schema already complained about. */
export type AfterSchema = (value: unknown, already: readonly FieldPath[]) => FieldIssue[];

/**
 * A single-document file validated against `schemaFile` of schemas/, then `after`; an
 * empty file is `null`. The issues come sorted by the caller (sortIssues).
 */
export function parseSchemaDocument(
  text: string,
  source: string,
  schemaFile: string,
  after: AfterSchema = () => [],
): DocumentValue {
  const lineCounter = new LineCounter();
  // Not 'silent': that level also drops the error for a second document (`---`), whose
  // settings would be ignored without a word. 'error' keeps errors and logs nothing.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: 'error' });
  const locator = new YamlLocator(document, lineCounter);
  const read = readDocument(document, locator, source);
  if (read.issues.length > 0) return read;
  const value = read.value ?? null;
  const validate = validatorForFile(schemaFile);
  const fieldIssues = validate(value)
    ? []
    : issuesFromSchemaErrors(validate.errors ?? [], value, (path) => locator.scalarSource(path));
  fieldIssues.push(
    ...after(
      value,
      fieldIssues.map((issue) => issue.path),
    ),
  );
  return { value, issues: fieldIssues.map((issue) => locate(source, locator, issue)) };
}

export function locate(file: string, locator: YamlLocator, issue: FieldIssue): ManifestIssue {
  const at = issue.at ?? { path: issue.path };
  const { line, column } = at.key ? locator.keyPosition(at.path) : locator.position(at.path);
  return { file, line, column, path: formatPath(issue.path), message: issue.message };
}

export function yamlIssue(
  file: string,
  problem: YAMLError,
  locator: Pick<YamlLocator, 'offsetPosition'>,
): ManifestIssue {
  const text = problem.message.replace(/\s+/g, ' ').trim();
  return {
    file,
    ...locator.offsetPosition(problem.pos[0]),
    path: '',
    message: `invalid YAML: ${text.charAt(0).toLowerCase()}${text.slice(1)}`,
  };
}

/** Nothing but `---`, comments or whitespace. */
function isEmptyDocument(document: Document.Parsed): boolean {
  const contents = document.contents;
  return (
    contents === null ||
    (isScalar(contents) && contents.value === null && contents.source === '' && contents.tag === undefined)
  );
}

/** `? [a, b]: c` is valid YAML, but no field of ours has such a key. */
function collectionKeyOffsets(document: Document.Parsed): number[] {
  const offsets: number[] = [];
  visit(document, {
    Pair(_, pair) {
      if (isCollection(pair.key)) offsets.push(pair.key.range?.[0] ?? 0);
    },
  });
  return offsets;
}
