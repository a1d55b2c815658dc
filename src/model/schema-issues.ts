import type { ErrorObject } from 'ajv';
import {
  formatPath,
  isRecord,
  pathFromPointer,
  type FieldIssue,
  type FieldPath,
  type PathSegment,
} from './field-path.js';
import { closestMatch, describeValue, expectedType, listWords, quote } from './wording.js';

// Ajv's errors, worded for the person who wrote the manifest: one issue per problem,
// saying what was expected and what was found. Combinators (oneOf, not) are read as the
// rule they encode ("exactly one of build and ref") instead of their branch failures.

/** The source text of the scalar at a path (`8080`, `1.10`), for "quote the value" hints. */
export type ScalarSource = (path: FieldPath) => string | undefined;

/**
 * Unknown-field messages list the allowed fields when there are at most this many: a
 * Project's spec (16 fields and growing) still gets its list; a huge enum-like mapping not.
 */
const MAX_LISTED_FIELDS = 20;

/** Keywords whose own error sums up the errors reported inside them. */
const SUMMARIZING = new Set(['oneOf', 'anyOf', 'not']);

export function issuesFromSchemaErrors(
  errors: readonly ErrorObject[],
  data: unknown,
  scalarSource: ScalarSource,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const error of withoutNoise(errors)) issues.push(...translate(error, data, scalarSource));
  return isRecord(data) && data.kind === 'Secret' ? issues.map(secretIssue) : issues;
}

/** Where a Secret's values and their keys are written: nothing found there is quoted. */
const SECRET_VALUE_FIELDS: ReadonlySet<PathSegment> = new Set(['data', 'stringData']);

/**
 * A Secret's issue that quotes nothing written under `data` or `stringData` (a mistyped
 * line there may well be a password), nor the document itself. Decided by the kind, not
 * by the schema's writeOnly alone, which does not cover the maps or their keys. A bad key
 * is named by its position only: the path stops at the map.
 */
function secretIssue(issue: FieldIssue): FieldIssue {
  const [field] = issue.path;
  if (field !== undefined && !SECRET_VALUE_FIELDS.has(field)) return issue;
  if (issue.at?.key !== true || issue.path.length < 2) return { ...issue, message: withoutValue(issue.message) };
  return {
    path: [field ?? ''],
    message: `a key here is not allowed: ${withoutValue(issue.message)}`.replace(/: unknown field .*/, ': unknown key'),
    at: issue.at,
  };
}

function withoutNoise(errors: readonly ErrorObject[]): ErrorObject[] {
  const summaries = errors.filter((error) => SUMMARIZING.has(error.keyword));
  const insideSummary = (error: ErrorObject): boolean =>
    summaries.some(
      (summary) =>
        summary !== error &&
        error.schemaPath.startsWith(`${summary.schemaPath}/`) &&
        (error.instancePath === summary.instancePath || error.instancePath.startsWith(`${summary.instancePath}/`)),
    );
  const tooShort = new Set(
    errors
      .filter((error) => error.keyword === 'minLength' && error.propertyName === undefined)
      .map((error) => error.instancePath),
  );
  return errors.filter((error) => {
    // The failing key's own error (it carries `propertyName`) says more than this one.
    if (error.keyword === 'propertyNames') return false;
    if (insideSummary(error)) return false;
    // "expected a non-empty string" says it all; "…such as busybox:1.36, got """ adds nothing.
    if (error.keyword === 'pattern' && error.propertyName === undefined && tooShort.has(error.instancePath))
      return false;
    return true;
  });
}

function translate(error: ErrorObject, data: unknown, scalarSource: ScalarSource): FieldIssue[] {
  const base = pathFromPointer(error.instancePath, data);
  if (error.propertyName !== undefined) {
    // A map key broke the `propertyNames` rule: point at the key.
    const path = [...base, error.propertyName];
    return [{ path, message: describeFailure(error, error.propertyName, path, scalarSource), at: { path, key: true } }];
  }
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'required':
      return [{ path: base, message: `missing required field ${quote(params.missingProperty)}` }];
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const path = [...base, field];
      return [{ path, message: unknownField(field, allowedFields(error)), at: { path, key: true } }];
    }
    case 'uniqueItems':
      return duplicates(base, error.data);
    case 'oneOf':
    case 'anyOf':
      return [choiceIssue(base, error)];
    case 'not':
      return [exclusionIssue(base, error)];
    default: {
      const message = describeFailure(error, error.data, base, scalarSource);
      return [{ path: base, message: error.parentSchema?.writeOnly === true ? withoutValue(message) : message }];
    }
  }
}

/** A `writeOnly` value (a Secret's) is never repeated in a message: what was expected, not what came. */
function withoutValue(message: string): string {
  if (message.endsWith('(the value is not shown)')) return message;
  const cut = message.search(/, got |; quote the value|; did you mean/);
  return cut < 0 ? message : `${message.slice(0, cut)} (the value is not shown)`;
}

/** What a value-level keyword expected of `value`. */
function describeFailure(error: ErrorObject, value: unknown, path: FieldPath, scalarSource: ScalarSource): string {
  const params: Record<string, unknown> = error.params;
  const schema: Record<string, unknown> = error.parentSchema ?? {};
  switch (error.keyword) {
    case 'type': {
      if (schema.const !== undefined) return `expected ${quote(schema.const)}, got ${describeValue(value)}`;
      const wanted: unknown = params.type;
      const wantsString = wanted === 'string' || (Array.isArray(wanted) && wanted.includes('string'));
      if (wantsString && (typeof value === 'number' || typeof value === 'boolean')) {
        // YAML read `8080` or `true` as a number or boolean; the fix is quoting it as written.
        return `expected string; quote the value (${JSON.stringify(scalarSource(path) ?? String(value))})`;
      }
      return `expected ${expectedType(wanted)}, got ${describeValue(value)}`;
    }
    case 'const':
      return `expected ${quote(params.allowedValue)}, got ${describeValue(value)}`;
    case 'enum': {
      const allowed: unknown[] = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      return `expected one of ${allowed.map(quote).join(', ')}, got ${describeValue(value)}`;
    }
    case 'pattern': {
      const expected =
        typeof schema.patternErrorMessage === 'string'
          ? schema.patternErrorMessage
          : `expected a value matching ${String(params.pattern)}`;
      return `${expected}, got ${quote(value)}`;
    }
    case 'minLength':
      return params.limit === 1
        ? 'expected a non-empty string'
        : `expected at least ${String(params.limit)} characters, got ${lengthOf(value)}`;
    case 'maxLength':
      return `expected at most ${String(params.limit)} characters, got ${lengthOf(value)}`;
    case 'minimum':
    case 'maximum':
      return `expected ${numberRange(schema)}, got ${quote(value)}`;
    case 'exclusiveMinimum':
      return `expected ${schema.type === 'integer' ? 'an integer' : 'a number'} greater than ${String(params.limit)}, got ${quote(value)}`;
    case 'exclusiveMaximum':
      return `expected ${schema.type === 'integer' ? 'an integer' : 'a number'} less than ${String(params.limit)}, got ${quote(value)}`;
    case 'minItems':
      return `expected at least ${countOf(params.limit, 'entry', 'entries')}, got ${Array.isArray(value) && value.length > 0 ? value.length : 'none'}`;
    case 'maxItems':
      return `expected at most ${countOf(params.limit, 'entry', 'entries')}, got ${Array.isArray(value) ? value.length : 0}`;
    default:
      return error.message ?? `is invalid (${error.keyword})`;
  }
}

function numberRange(schema: Record<string, unknown>): string {
  const noun = schema.type === 'integer' ? 'an integer' : 'a number';
  const { minimum, maximum } = schema;
  if (typeof minimum === 'number' && typeof maximum === 'number') return `${noun} between ${minimum} and ${maximum}`;
  if (typeof minimum === 'number') return `${noun} of at least ${minimum}`;
  return `${noun} of at most ${String(maximum)}`;
}

function lengthOf(value: unknown): number {
  return typeof value === 'string' ? [...value].length : 0;
}

function countOf(count: unknown, one: string, many: string): string {
  return `${String(count)} ${count === 1 ? one : many}`;
}

function allowedFields(error: ErrorObject): string[] {
  const properties = error.parentSchema?.properties;
  return isRecord(properties) ? Object.keys(properties) : [];
}

function unknownField(field: string, allowed: readonly string[]): string {
  const message = `unknown field ${quote(field)}`;
  if (allowed.length === 0) return `${message}; this mapping takes no fields`;
  const suggestion = closestMatch(field, allowed);
  if (suggestion !== undefined) return `${message}; did you mean ${quote(suggestion)}?`;
  if (allowed.length <= MAX_LISTED_FIELDS) return `${message} (allowed: ${allowed.join(', ')})`;
  return message;
}

/** Every entry equal to an earlier one; uniqueItems itself only reports the first pair. */
function duplicates(base: FieldPath, list: unknown): FieldIssue[] {
  if (!Array.isArray(list)) return [];
  const firstIndex = new Map<string, number>();
  const issues: FieldIssue[] = [];
  list.forEach((item: unknown, index) => {
    const key = JSON.stringify(item) ?? 'undefined';
    const earlier = firstIndex.get(key);
    if (earlier === undefined) firstIndex.set(key, index);
    else
      issues.push({
        path: [...base, index],
        message: `duplicate entry ${quote(item)} (also at ${formatPath([...base, earlier])})`,
      });
  });
  return issues;
}

/** The field names of branches that only say `required: [one field]`, if all are like that. */
function requiredOnlyFields(branches: unknown): string[] | undefined {
  if (!Array.isArray(branches)) return undefined;
  const fields: string[] = [];
  for (const branch of branches) {
    if (!isRecord(branch) || Object.keys(branch).length !== 1 || !Array.isArray(branch.required)) return undefined;
    for (const field of branch.required) fields.push(String(field));
  }
  return fields;
}

function presentFields(data: unknown, fields: readonly string[]): string[] {
  // Object keys keep the order of the document, so the last one is the one written last.
  return isRecord(data) ? Object.keys(data).filter((key) => fields.includes(key)) : [];
}

/** `oneOf: [{required: [build]}, {required: [ref]}]`: exactly one of these fields. */
function choiceIssue(base: FieldPath, error: ErrorObject): FieldIssue {
  const fields = requiredOnlyFields(error.schema);
  if (!fields) return { path: base, message: 'does not match any of the allowed forms' };
  const present = presentFields(error.data, fields);
  const names = fields.map(quote);
  if (present.length === 0)
    return { path: base, message: `missing required field: set one of ${listWords(names, 'or')}` };
  return conflict(base, present);
}

/** `not: {required: [httpGet, tcpSocket]}`: these fields exclude each other. */
function exclusionIssue(base: FieldPath, error: ErrorObject): FieldIssue {
  const fields = isRecord(error.schema) ? requiredOnlyFields([error.schema]) : undefined;
  if (!fields) return { path: base, message: 'matches a form that is not allowed' };
  return conflict(base, presentFields(error.data, fields));
}

function conflict(base: FieldPath, present: readonly string[]): FieldIssue {
  const last: PathSegment | undefined = present[present.length - 1];
  const names = listWords(present.map(quote));
  const message = `${names} cannot ${present.length === 2 ? 'both' : 'all'} be set; choose one`;
  return last === undefined
    ? { path: base, message }
    : { path: base, message, at: { path: [...base, last], key: true } };
}
