import { isRecord, type FieldIssue } from './field-path.js';
import { issuesFromSchemaErrors, type ScalarSource } from './schema-issues.js';
import { validatorFor } from './schemas.js';
import { semanticIssues } from './semantic-checks.js';
import { secretFromManifest, type SecretManifest } from './secret-manifest.js';
import { KINDS, SERVER_KINDS, isKind, type LumaObject, type ObjectMeta } from './types.js';
import { closestMatch, describeValue, quote } from './wording.js';

// One manifest document as plain data (from YAML or JSON) → a Luma object, or every
// problem with it. Knows nothing of files or positions: the issues carry field paths.

export interface ValidationResult {
  /** Present only when there are no issues. */
  object?: LumaObject;
  issues: FieldIssue[];
}

/** What a manifest may declare: the server's own kinds are not offered. */
const KNOWN_KINDS = KINDS.filter((kind) => !SERVER_KINDS.includes(kind)).join(', ');

export function validateManifest(value: unknown, scalarSource: ScalarSource = () => undefined): ValidationResult {
  if (!isRecord(value)) {
    return {
      issues: [
        {
          path: [],
          // Not quoted: the document may be a Secret's value pasted on its own (a PUT's body).
          message: `expected a mapping with apiVersion, kind, metadata and spec, got ${typeWord(value)}`,
        },
      ],
    };
  }
  const kind = value.kind;
  // Which schema applies depends on `kind`, so it is checked before any schema runs.
  if (!isKind(kind)) return { issues: [kindIssue(kind)] };
  if (SERVER_KINDS.includes(kind)) return { issues: [serverKindIssue(kind)] };

  const validate = validatorFor(kind);
  const issues = validate(value) ? [] : issuesFromSchemaErrors(validate.errors ?? [], value, scalarSource);
  issues.push(
    ...semanticIssues(
      kind,
      value,
      issues.map((issue) => issue.path),
    ),
  );
  if (issues.length > 0) return { issues };
  // The schema for `kind` has just accepted it, which is what the casts assert.
  if (kind === 'Secret')
    return { object: withoutServerFields(secretFromManifest(value as unknown as SecretManifest)), issues };
  return { object: withoutServerFields(value as unknown as LumaObject), issues };
}

function kindIssue(kind: unknown): FieldIssue {
  if (kind === undefined) return { path: [], message: `missing required field "kind" (one of ${KNOWN_KINDS})` };
  if (typeof kind !== 'string')
    return { path: ['kind'], message: `expected one of ${KNOWN_KINDS}, got ${describeValue(kind)}` };
  const suggestion = closestMatch(kind, KINDS);
  const hint = suggestion !== undefined ? `did you mean ${quote(suggestion)}?` : `expected one of ${KNOWN_KINDS}`;
  return { path: ['kind'], message: `unknown kind ${quote(kind)}; ${hint}` };
}

/** A Revision records what ran; letting a manifest write one would make that record a lie. */
function serverKindIssue(kind: string): FieldIssue {
  return {
    path: ['kind'],
    message: `${kind} objects are recorded by the controller when a project's change alters what runs; they cannot be applied (change the Project instead)`,
  };
}

/**
 * Status and the server-set metadata are never taken from a manifest (a manifest may be
 * the output of `luma get -o yaml`). `resourceVersion` stays: it is a precondition.
 */
function withoutServerFields(object: LumaObject): LumaObject {
  const { status: _status, ...rest } = object;
  const { uid: _uid, generation: _generation, creationTimestamp: _created, ...metadata }: ObjectMeta = object.metadata;
  return { ...rest, metadata } as LumaObject;
}

/** What a document that is not a mapping is, without its text. */
function typeWord(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value} (not shown)`;
}
