// A fast reader for the plain YAML most manifests are written in: block mappings and
// sequences indented with spaces, one-line scalars, and one-line flow collections of
// plain words. It reads such text about ten times faster than `yaml`, which builds a
// syntax tree with positions that only error messages need. Anything else — tabs,
// non-ASCII, anchors, tags, block scalars, escapes, multi-line scalars, a word that could
// be a number other than a plain integer, a duplicate key, a syntax error — makes it
// decline (undefined), and the caller parses the text with `yaml`. Where it answers, its
// answer is what `yaml`'s core schema gives (test/unit/model/plain-yaml.test.ts and its
// fuzz test compare the two).

/** A document's value, or undefined for an empty document (only comments, or nothing, after `---`). */
export type PlainDocument = Record<string, unknown> | undefined;

interface Line {
  indent: number;
  /** The line without its indentation; never blank, never a comment line. */
  text: string;
}

/** Thrown to decline; caught in readPlainYaml only. */
class Decline extends Error {}

const DOCUMENT_START = '---';
/** Only printable ASCII and line feeds: tabs, CR, BOM, control and non-ASCII characters decline. */
const OUTSIDE_SUBSET = /[^\n\x20-\x7e]/;
const KEY_LINE = /^([A-Za-z_][A-Za-z0-9_./-]{0,200}):(?: (.*))?$/;
/** Keys that `yaml` would read as null or a boolean, and the one that sets a prototype. */
const NOT_PLAIN_KEY = /^(?:null|true|false|__proto__)$/i;
const SIMPLE_INTEGER = /^(?:0|[1-9][0-9]{0,14})$/;
/** The core schema's numbers (yaml/dist/schema/core): a word like these, but not a simple integer, declines. */
const NUMBER_LIKE = [
  /^[-+]?[0-9]+$/,
  /^0o[0-7]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];
/** A block plain scalar: a safe first character, then no ` #` (a comment), `: ` or brackets. */
const BLOCK_PLAIN = /^[A-Za-z0-9_./$~][^[\]{}]*$/;
/** A word inside a one-line flow collection. */
const FLOW_WORD = /^[A-Za-z0-9_./][A-Za-z0-9_./-]*$/;
const FLOW_PAIR = /^([A-Za-z_][A-Za-z0-9_./-]{0,200}): +(\S+)$/;

/** Every document of `text` as `yaml` would read it, or undefined when the text is outside the subset. */
export function readPlainYaml(text: string): PlainDocument[] | undefined {
  if (OUTSIDE_SUBSET.test(text)) return undefined;
  try {
    return splitDocuments(text).map(readDocument);
  } catch (error) {
    // A RangeError is a nesting too deep for the stack: `yaml` decides what that text means.
    if (error instanceof Decline || error instanceof RangeError) return undefined;
    throw error;
  }
}

/**
 * The content lines of each document. Text before the first `---` is a document only when
 * it has content; every `---` starts one, empty or not.
 */
function splitDocuments(text: string): Line[][] {
  const documents: Line[][] = [];
  let current: Line[] = [];
  let started = false;
  for (const raw of text.split('\n')) {
    if (raw === DOCUMENT_START) {
      if (started || current.length > 0) documents.push(current);
      current = [];
      started = true;
      continue;
    }
    const line = contentLine(raw);
    if (line) current.push(line);
  }
  if (started || current.length > 0) documents.push(current);
  return documents;
}

/** A line with content, or undefined for a blank or comment line. */
function contentLine(raw: string): Line | undefined {
  const indent = raw.length - raw.trimStart().length;
  const text = raw.slice(indent).trimEnd();
  if (text === '' || text.startsWith('#')) return undefined;
  // Markers and directives at the margin (`--- x`, `...`, `%YAML`) are for `yaml` to read.
  if (indent === 0 && (text.startsWith('---') || text.startsWith('...') || text.startsWith('%'))) throw new Decline();
  return { indent, text };
}

function readDocument(lines: Line[]): PlainDocument {
  const first = lines[0];
  if (!first) return undefined;
  const reader = new BlockReader(lines);
  const value = reader.mapping(0, first.indent);
  if (reader.position < lines.length) throw new Decline();
  return value;
}

class BlockReader {
  position = 0;

  constructor(private readonly lines: Line[]) {}

  /** The mapping whose keys start at `indent`, from line `at`. */
  mapping(at: number, indent: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.position = at;
    for (let line = this.lines[at]; line && line.indent >= indent; line = this.lines[this.position]) {
      if (line.indent > indent) throw new Decline();
      const match = KEY_LINE.exec(line.text);
      const key = match?.[1];
      if (key === undefined || NOT_PLAIN_KEY.test(key) || Object.hasOwn(result, key)) throw new Decline();
      this.position += 1;
      const rest = withoutComment(match?.[2] ?? '');
      result[key] = rest === '' ? this.nested(indent, true) : this.inline(rest, indent);
    }
    return result;
  }

  /** The sequence whose `-` marks stand at `indent`, from line `at`. */
  sequence(at: number, indent: number): unknown[] {
    const result: unknown[] = [];
    this.position = at;
    for (let line = this.lines[at]; line && line.indent >= indent; line = this.lines[this.position]) {
      if (line.indent > indent) throw new Decline();
      if (!isItem(line.text)) break;
      const gap = line.text.slice(1).length - line.text.slice(1).trimStart().length;
      const rest = withoutComment(line.text.slice(1 + gap));
      if (rest === '') {
        this.position += 1;
        result.push(this.nested(indent, false));
      } else if (isItem(rest) || rest.startsWith('?')) {
        throw new Decline();
      } else if (KEY_LINE.test(rest)) {
        // `- key: value`: a mapping whose keys line up with this first one.
        const column = indent + 1 + gap;
        this.lines[this.position] = { indent: column, text: rest };
        result.push(this.mapping(this.position, column));
      } else {
        this.position += 1;
        result.push(this.inline(rest, indent));
      }
    }
    return result;
  }

  /** What follows `key:` or `-` with nothing after it: a deeper block, a sequence at the key's column, or null. */
  private nested(indent: number, underKey: boolean): unknown {
    const next = this.lines[this.position];
    if (next && next.indent > indent)
      return isItem(next.text) ? this.sequence(this.position, next.indent) : this.mapping(this.position, next.indent);
    if (next && underKey && next.indent === indent && isItem(next.text)) return this.sequence(this.position, indent);
    return null;
  }

  /** A value written on its own line; a deeper line after it would continue it, which is for `yaml`. */
  private inline(text: string, indent: number): unknown {
    const next = this.lines[this.position];
    if (next && next.indent > indent) throw new Decline();
    return inlineValue(text);
  }
}

function isItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** The text before a ` #` comment, trimmed; quotes are left for inlineValue to check. */
function withoutComment(text: string): string {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('#')) return '';
  const comment = trimmed.indexOf(' #');
  return (comment < 0 ? trimmed : trimmed.slice(0, comment)).trimEnd();
}

function inlineValue(text: string): unknown {
  const first = text[0];
  if (first === '"' || first === "'") return quoted(text);
  if (first === '[') return flowSequence(text);
  if (first === '{') return flowMapping(text);
  if (!BLOCK_PLAIN.test(text) || text.includes(': ') || text.endsWith(':')) throw new Decline();
  return plainScalar(text);
}

/** `"…"` or `'…'` with no escapes and nothing but a comment after it. */
function quoted(text: string): string {
  const quote = text[0] ?? '';
  const end = text.indexOf(quote, 1);
  if (end < 0 || end !== text.length - 1) throw new Decline();
  const content = text.slice(1, end);
  if (content.includes('\\') || content.includes('"') || content.includes("'")) throw new Decline();
  return content;
}

function flowSequence(text: string): unknown[] {
  return flowItems(text, ']').map((item) => {
    if (!FLOW_WORD.test(item)) throw new Decline();
    return plainScalar(item);
  });
}

function flowMapping(text: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const item of flowItems(text, '}')) {
    const match = FLOW_PAIR.exec(item);
    const key = match?.[1];
    const value = match?.[2];
    if (key === undefined || value === undefined || NOT_PLAIN_KEY.test(key) || Object.hasOwn(result, key))
      throw new Decline();
    if (!FLOW_WORD.test(value)) throw new Decline();
    result[key] = plainScalar(value);
  }
  return result;
}

/** The comma-separated items of a one-line flow collection that ends the text. */
function flowItems(text: string, close: string): string[] {
  if (!text.endsWith(close)) throw new Decline();
  const inner = text.slice(1, -1);
  if (/[[\]{}"'#]/.test(inner)) throw new Decline();
  if (inner.trim() === '') return [];
  const items = inner.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new Decline();
  return items;
}

/** The core schema's reading of a plain word: null, a boolean, a simple integer or a string. */
function plainScalar(text: string): unknown {
  if (/^(?:~|[Nn]ull|NULL)$/.test(text)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(text)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(text)) return false;
  if (SIMPLE_INTEGER.test(text)) return Number(text);
  if (NUMBER_LIKE.some((pattern) => pattern.test(text))) throw new Decline();
  return text;
}
