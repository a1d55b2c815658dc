// `luma explain KIND[.field…]`: kubectl's explain, read from the JSON Schemas in schemas/
// (the one definition of what a manifest may hold, so the text cannot drift from what is
// validated). Pure: it walks a schema object; the command loads it.

export interface SchemaNode {
  description?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: boolean | SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
  $ref?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  definitions?: Record<string, SchemaNode>;
}

export class ExplainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainError';
  }
}

/** Follows `#/definitions/x` within the same document; a description beside a $ref wins. */
function resolve(root: SchemaNode, node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name !== undefined ? root.definitions?.[name] : undefined;
  if (target === undefined) throw new ExplainError(`the schema refers to ${node.$ref}, which it does not define`);
  const resolved = resolve(root, target);
  return node.description !== undefined ? { ...resolved, description: node.description } : resolved;
}

/** Fields a value may have: its own, its array items', and those of every branch. */
function fieldsOf(root: SchemaNode, node: SchemaNode): Record<string, SchemaNode> {
  const resolved = resolve(root, node);
  if (resolved.items !== undefined) return fieldsOf(root, resolved.items);
  const branches = [...(resolved.oneOf ?? []), ...(resolved.anyOf ?? []), ...(resolved.allOf ?? [])];
  return Object.assign({}, ...branches.map((branch) => fieldsOf(root, branch)), resolved.properties ?? {});
}

function requiredOf(root: SchemaNode, node: SchemaNode): Set<string> {
  const resolved = resolve(root, node);
  if (resolved.items !== undefined) return requiredOf(root, resolved.items);
  return new Set(resolved.required ?? []);
}

/** `<string>`, `<[]string>`, `<map[string]string>`, `<object>`, `<integer | string>`. */
export function typeName(root: SchemaNode, node: SchemaNode): string {
  const resolved = resolve(root, node);
  if (resolved.items !== undefined) return `[]${typeName(root, resolved.items)}`;
  const values = resolved.additionalProperties;
  if (typeof values === 'object' && resolved.properties === undefined) return `map[string]${typeName(root, values)}`;
  if (Array.isArray(resolved.type)) return resolved.type.join(' | ');
  if (resolved.type !== undefined) return resolved.type;
  const branches = resolved.oneOf ?? resolved.anyOf ?? [];
  const names = [...new Set(branches.map((branch) => typeName(root, branch)))];
  return names.length > 0 ? names.join(' | ') : 'object';
}

export interface Explained {
  /** `spec.scaling`; empty for the kind itself. */
  path: string[];
  node: SchemaNode;
}

/** The schema node at `path` (`['spec', 'scaling']`); an unknown field names where it looked. */
export function findField(root: SchemaNode, kind: string, path: string[]): Explained {
  let node = root;
  for (const [index, field] of path.entries()) {
    const fields = fieldsOf(root, node);
    const next = fields[field];
    if (next === undefined) {
      const where = [kind.toLowerCase(), ...path.slice(0, index)].join('.');
      const known = Object.keys(fields);
      throw new ExplainError(
        known.length === 0
          ? `${where} has no fields; "${field}" is not one of them`
          : `field "${field}" does not exist in ${where} (its fields: ${known.join(', ')})`,
      );
    }
    node = next;
  }
  return { path, node };
}

const INDENT = '    ';

export function explainText(
  root: SchemaNode,
  kind: string,
  apiVersion: string,
  found: Explained,
  recursive = false,
): string {
  const node = resolve(root, found.node);
  const lines = [`KIND:       ${kind}`, `VERSION:    ${apiVersion}`, ''];
  const field = found.path[found.path.length - 1];
  if (field !== undefined) lines.push(`FIELD: ${field} <${typeName(root, found.node)}>`, '');
  lines.push('DESCRIPTION:', ...wrap(describeNode(node), INDENT));
  const fields = fieldsOf(root, found.node);
  if (Object.keys(fields).length > 0) {
    lines.push('', 'FIELDS:');
    if (recursive) lines.push(...fieldTree(root, found.node, '  ', new Set()));
    else lines.push(...fieldList(root, found.node));
  }
  return lines.join('\n') + '\n';
}

function describeNode(node: SchemaNode): string {
  const parts = [node.description ?? '<no description>'];
  if (node.enum !== undefined) parts.push(`One of: ${node.enum.map((value) => JSON.stringify(value)).join(', ')}.`);
  // Many descriptions already say their default in words.
  if (node.default !== undefined && !/default/i.test(parts[0] ?? ''))
    parts.push(`Default: ${JSON.stringify(node.default)}.`);
  return parts.join(' ');
}

function fieldList(root: SchemaNode, node: SchemaNode): string[] {
  const required = requiredOf(root, node);
  return Object.entries(fieldsOf(root, node)).flatMap(([name, child]) => [
    `  ${name}\t<${typeName(root, child)}>${required.has(name) ? ' -required-' : ''}`,
    ...wrap(describeNode(resolve(root, child)), INDENT),
    '',
  ]);
}

/** `--recursive`: every field below, by name and type, indented by depth (kubectl's layout). */
function fieldTree(root: SchemaNode, node: SchemaNode, indent: string, seen: Set<SchemaNode>): string[] {
  const resolved = resolve(root, node);
  if (seen.has(resolved)) return [];
  const below = new Set(seen).add(resolved);
  return Object.entries(fieldsOf(root, node)).flatMap(([name, child]) => [
    `${indent}${name}\t<${typeName(root, child)}>`,
    ...fieldTree(root, child, `${indent}  `, below),
  ]);
}

/** Words wrapped at 80 columns, each line indented. */
function wrap(text: string, indent: string, width = 80): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((each) => each !== '')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}
