import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILES, createAjv, findSchemaDirectory, loadSchema } from '../../../src/model/schemas.js';
import {
  CPU_EXPECTED,
  DURATION_EXPECTED,
  MEMORY_EXPECTED,
  parseCpu,
  parseDuration,
  parseMemory,
} from '../../../src/model/quantities.js';
import { KINDS, type Kind } from '../../../src/model/types.js';

// The schemas are hand-written JSON shown to editors as well as compiled here: these tests
// keep them strict, self-contained, documented and in step with quantities.ts.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const schemas = Object.fromEntries(KINDS.map((kind) => [kind, loadSchema(kind)])) as Record<
  Kind,
  Record<string, unknown>
>;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every subschema with the JSON pointer that reaches it. */
function* subschemas(schema: unknown, pointer = '#'): Generator<[string, JsonObject]> {
  if (!isObject(schema)) return;
  yield [pointer, schema];
  for (const keyword of ['properties', 'definitions']) {
    const children = schema[keyword];
    if (isObject(children))
      for (const [name, child] of Object.entries(children)) yield* subschemas(child, `${pointer}/${keyword}/${name}`);
  }
  for (const keyword of ['items', 'additionalProperties', 'propertyNames', 'not'])
    yield* subschemas(schema[keyword], `${pointer}/${keyword}`);
}

function definition(kind: Kind, name: string): JsonObject {
  const definitions = schemas[kind].definitions;
  const found = isObject(definitions) ? definitions[name] : undefined;
  if (!isObject(found)) throw new Error(`${kind} schema has no definition ${name}`);
  return found;
}

function matches(kind: Kind, name: string, input: string): boolean {
  return new RegExp(String(definition(kind, name).pattern), 'u').test(input);
}

describe('schemas/', () => {
  it('is found from src/model and from dist/model', () => {
    expect(findSchemaDirectory()).toBe(join(repoRoot, 'schemas'));
    expect(findSchemaDirectory(join(repoRoot, 'dist', 'model'))).toBe(join(repoRoot, 'schemas'));
    expect(() => findSchemaDirectory('/')).toThrow('cannot find the schemas/ directory above /');
  });

  it.each(KINDS)('%s compiles in strict mode and names itself', (kind) => {
    const schema = schemas[kind];
    expect(() => createAjv().compile(schema)).not.toThrow();
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe(`https://luma.dev/schemas/v1alpha1/${SCHEMA_FILES[kind]}`);
    expect(schema.title).toBe(`Luma ${kind}`);
    expect(typeof schema.description).toBe('string');
  });

  it.each(KINDS)('%s describes every field, for editors', (kind) => {
    const undocumented: string[] = [];
    for (const [pointer, schema] of subschemas(schemas[kind])) {
      if (pointer === '#' || /\/(properties|definitions)\/[^/]+$/.test(pointer)) {
        if (typeof schema.description !== 'string' && typeof schema.$ref !== 'string') undocumented.push(pointer);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it.each(KINDS)('%s refuses unknown fields in every fixed mapping', (kind) => {
    const open: string[] = [];
    for (const [pointer, schema] of subschemas(schemas[kind])) {
      if (isObject(schema.properties) && schema.additionalProperties !== false) open.push(pointer);
    }
    expect(open).toEqual([]);
  });

  it('shares definitions word for word between the kinds', () => {
    const names = new Set(
      KINDS.flatMap((kind) => Object.keys(isObject(schemas[kind].definitions) ? schemas[kind].definitions : {})),
    );
    for (const name of names) {
      const versions = KINDS.filter(
        (kind) => isObject(schemas[kind].definitions) && name in (schemas[kind].definitions as JsonObject),
      ).map((kind) => definition(kind, name));
      for (const version of versions) expect(isDeepStrictEqual(version, versions[0]), `definition ${name}`).toBe(true);
    }
  });

  it('words quantity errors the way quantities.ts does', () => {
    expect(definition('Project', 'duration').patternErrorMessage).toBe(`expected ${DURATION_EXPECTED}`);
    expect(definition('Project', 'cpu').patternErrorMessage).toBe(`expected ${CPU_EXPECTED}`);
    expect(definition('Project', 'memory').patternErrorMessage).toBe(`expected ${MEMORY_EXPECTED}`);
  });

  const samples = {
    duration: {
      parse: parseDuration,
      inputs: ['90s', '5m', '1h30m', '500ms', '1.5h', '0s', '10x', '5', '1d', '.5s', '1 h', '', 'ms', '-1s'],
    },
    cpu: { parse: parseCpu, inputs: ['500m', '1.5', '2', '0.001', '1.0001', '1.5m', '-1', 'abc', '', '1e3'] },
    memory: {
      parse: parseMemory,
      inputs: ['256Mi', '1Gi', '512M', '1000000', '64Ki', '1.5Gi', '256m', '1GB', 'Mi', '', '1e6', '1Ei'],
    },
  } as const;

  it.each(Object.entries(samples))('%s pattern accepts exactly what the parser accepts', (name, { parse, inputs }) => {
    for (const input of inputs) {
      let parses = true;
      try {
        parse(input);
      } catch {
        parses = false;
      }
      expect(matches('Project', name, input), `${name} ${JSON.stringify(input)}`).toBe(parses);
    }
  });

  it('accepts Docker image references and refuses the rest', () => {
    const valid = [
      'busybox',
      'busybox:1.36',
      'luma/hello:abc123',
      'registry.example.com:5000/team/app:v2',
      'localhost:5000/app',
      'app@sha256:' + 'a'.repeat(64),
      'my_app',
      'a--b',
    ];
    const invalid = ['My App', 'Busybox', 'app:', ':tag', 'app:-x', '/app', 'app/', 'http://registry/app'];
    for (const ref of valid) expect(matches('Image', 'imageReference', ref), ref).toBe(true);
    for (const ref of invalid) expect(matches('Image', 'imageReference', ref), ref).toBe(false);
  });

  it('accepts DNS-1123 names and Kubernetes-style label keys', () => {
    for (const name of ['a', 'my-app', 'app2', '0day']) expect(matches('Lease', 'name', name), name).toBe(true);
    for (const name of ['-a', 'a-', 'My', 'a_b', 'a.b', '']) expect(matches('Lease', 'name', name), name).toBe(false);
    for (const key of ['tier', 'example.com/tier', 'app.kubernetes.io/name', 'A_b.c'])
      expect(matches('Lease', 'labelKey', key), key).toBe(true);
    for (const key of ['-x', 'a/b/c', 'Example.com/x', '/x', 'x/'])
      expect(matches('Lease', 'labelKey', key), key).toBe(false);
  });
});
