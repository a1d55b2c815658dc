import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import { KINDS, type Kind } from './types.js';

// The JSON Schemas in schemas/ are the one definition of what a manifest may contain:
// editors use them through yaml-language-server, and this module compiles them once for
// every manifest Luma reads. Reading these files is the only I/O in model/.

export const SCHEMA_FILES: Record<Kind, string> = {
  Project: 'project.schema.json',
  Image: 'image.schema.json',
  Lease: 'lease.schema.json',
  Secret: 'secret.schema.json',
  Revision: 'revision.schema.json',
};

/**
 * An editor keyword: VS Code and yaml-language-server show it instead of "does not match
 * the pattern ^…$". Ajv only has to accept it; our own messages read it too.
 */
const ANNOTATION_KEYWORDS = ['patternErrorMessage'];

/**
 * The repository's schemas/ directory, found by walking up from this module, which lives
 * in src/model when run by tsx or vitest and in dist/model after tsc.
 */
export function findSchemaDirectory(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let directory = from;
  for (;;) {
    const candidate = join(directory, 'schemas');
    if (existsSync(join(candidate, SCHEMA_FILES.Project))) return candidate;
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`cannot find the schemas/ directory above ${from}`);
    directory = parent;
  }
}

export function loadSchema(kind: Kind, directory: string = findSchemaDirectory()): AnySchemaObject {
  return loadSchemaFile(SCHEMA_FILES[kind], directory);
}

/** A schema of schemas/ by file name, for documents that are not objects (the operator settings). */
export function loadSchemaFile(name: string, directory: string = findSchemaDirectory()): AnySchemaObject {
  const file = join(directory, name);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file} is not a JSON Schema object`);
  return parsed as AnySchemaObject;
}

/**
 * `verbose` makes ajv attach the failing schema and value, which the messages need.
 * Strict mode turns a sloppy schema edit into a failure at load; `strictRequired` is the
 * exception because "exactly one of" is written as branches that only say `required`.
 * Union types are allowed for the operator settings, where CPU and memory may be written
 * as plain YAML numbers (`maxCpu: 2`) as well as strings.
 */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  for (const keyword of ANNOTATION_KEYWORDS) ajv.addKeyword({ keyword, schemaType: 'string' });
  return ajv;
}

let validators: Record<Kind, ValidateFunction> | undefined;

/** Compiled on first use, then shared: compiling costs milliseconds, validating microseconds. */
export function validatorFor(kind: Kind): ValidateFunction {
  if (!validators) {
    const ajv = createAjv();
    const directory = findSchemaDirectory();
    const compiled: Partial<Record<Kind, ValidateFunction>> = {};
    for (const each of KINDS) compiled[each] = ajv.compile(loadSchema(each, directory));
    validators = compiled as Record<Kind, ValidateFunction>;
  }
  return validators[kind];
}

const byFile = new Map<string, ValidateFunction>();

/** Like validatorFor, for a schema named by its file in schemas/ (`settings.schema.json`). */
export function validatorForFile(name: string): ValidateFunction {
  let validate = byFile.get(name);
  if (!validate) {
    validate = createAjv().compile(loadSchemaFile(name));
    byFile.set(name, validate);
  }
  return validate;
}
