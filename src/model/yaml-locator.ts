import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
  type Pair,
} from 'yaml';
import type { FieldPath } from './field-path.js';

// Where a field is written in a YAML document, as a 1-based line and column, found by
// walking the document's syntax tree along a field path.

export interface Position {
  line: number;
  column: number;
}

type AnyNode = Node | null | undefined;

interface Found {
  /** The node reached by the last path segment that exists. */
  node: AnyNode;
  /** The key of the mapping entry that holds `node`, when it is held by a mapping. */
  key: AnyNode;
  /** Whether every segment of the path exists. */
  complete: boolean;
}

export class YamlLocator {
  constructor(
    private readonly document: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  /**
   * Where the value at `path` is written. A value laid out as a block under its key, or an
   * empty one, is pointed at by its key: that is the line a reader looks for. A path that
   * leads nowhere (a field left out) points at the nearest enclosing field that exists.
   */
  position(path: FieldPath): Position {
    const { node, key } = this.find(path);
    if (key && (isEmpty(node) || isBlockCollection(node))) return this.at(key);
    return this.at(node);
  }

  /** Where the key that names the field at `path` is written (its value when it has no key). */
  keyPosition(path: FieldPath): Position {
    const found = this.find(path);
    if (found.complete && found.key) return this.at(found.key);
    return this.position(path);
  }

  /** The text of the scalar at `path` as written (`1.10`, not the number 1.1). */
  scalarSource(path: FieldPath): string | undefined {
    const { node, complete } = this.find(path);
    return complete && isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  }

  /** The position of a character offset in the text, e.g. of a YAML syntax error. */
  offsetPosition(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  private find(path: FieldPath): Found {
    let node: AnyNode = this.document.contents;
    let key: AnyNode;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.document);
      let next: { node: AnyNode; key: AnyNode } | undefined;
      if (isMap(node)) {
        const pair: Pair<unknown, unknown> | undefined = node.items.find(
          (item) => keyText(item.key) === String(segment),
        );
        if (pair) next = { node: asNode(pair.value), key: asNode(pair.key) };
      } else if (isSeq(node) && typeof segment === 'number') {
        const item: unknown = node.items[segment];
        if (item !== undefined) next = { node: asNode(item), key: undefined };
      }
      if (!next) return { node, key, complete: false };
      ({ node, key } = next);
    }
    return { node, key, complete: true };
  }

  private at(node: AnyNode): Position {
    const offset = node?.range ? node.range[0] : (this.document.contents?.range?.[0] ?? 0);
    return this.offsetPosition(offset);
  }
}

function asNode(value: unknown): AnyNode {
  return isNode(value) ? value : undefined;
}

function isNode(value: unknown): value is Node {
  return isScalar(value) || isCollection(value) || isAlias(value);
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return key.value === null ? '' : String(key.value);
  return undefined;
}

/** `image:` with nothing after it: yaml makes a null scalar with no source text. */
function isEmpty(node: AnyNode): boolean {
  return !node || (isScalar(node) && node.value === null && node.source === '');
}

function isBlockCollection(node: AnyNode): boolean {
  return isCollection(node) && !node.flow;
}
