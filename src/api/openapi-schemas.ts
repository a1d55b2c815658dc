import type { AnySchemaObject } from 'ajv';
import { loadSchema } from '../model/schemas.js';
import { KINDS, type Kind } from '../model/types.js';

// The kinds' JSON Schemas of schemas/ as components of the OpenAPI document, so that the
// document and manifest validation share one definition and a kind or field added there
// reaches generated clients with nothing else to change. Each file's `definitions` become
// components of their own, named `Kind.definition`, and its `#/definitions/…` references
// point at them: an OpenAPI 3.1 document is JSON Schema 2020-12, whose tools resolve `#`
// against the whole document, not against each schema's `$id`.

export type JsonSchema = Record<string, unknown>;

/** Where the document's components live, as `$ref` writes it. */
export const COMPONENTS = '#/components/schemas/';

/** A reference to a component: a kind (`Project`) or another schema of the document. */
export function schemaRef(name: string): { $ref: string } {
  return { $ref: `${COMPONENTS}${name}` };
}

/** Every kind's components, read from schemas/ (the files manifest validation compiles). */
export function kindComponents(
  kinds: readonly Kind[] = KINDS,
  load: (kind: Kind) => AnySchemaObject = (kind) => loadSchema(kind),
): Record<string, JsonSchema> {
  return Object.assign({}, ...kinds.map((kind) => componentsOf(kind, load(kind))));
}

/** One schema file as components: the root as `name`, each definition as `name.definition`. */
export function componentsOf(name: string, schema: JsonSchema): Record<string, JsonSchema> {
  // `$schema` would name draft-07 as the dialect; `$id` would move the base of every `#` reference.
  const { $schema: _dialect, $id: _id, definitions, $defs, ...root } = schema;
  const components: Record<string, JsonSchema> = { [name]: rewriteRefs(root, name) as JsonSchema };
  for (const [definition, body] of Object.entries({ ...asObject(definitions), ...asObject($defs) })) {
    components[`${name}.${definition}`] = rewriteRefs(body, name) as JsonSchema;
  }
  return components;
}

const LOCAL_REF = /^#\/(?:definitions|\$defs)\/([^/]+)$/;

/** A copy with every `#/definitions/X` made `#/components/schemas/owner.X`; any other reference is refused. */
function rewriteRefs(value: unknown, owner: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, owner));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => {
      if (key !== '$ref' || typeof child !== 'string') return [key, rewriteRefs(child, owner)];
      const match = LOCAL_REF.exec(child);
      if (!match) throw new Error(`schema of ${owner}: cannot place "$ref": "${child}" in the OpenAPI document`);
      return [key, `${COMPONENTS}${owner}.${match[1]}`];
    }),
  );
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
