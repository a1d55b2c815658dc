import { JSONPath } from 'jsonpath-plus';

// kubectl's `-o jsonpath=TEMPLATE`: literal text with `{PATH}` expressions, `{"\n"}` quoted
// text, and `{range PATH}…{end}` loops. No npm library speaks this template dialect, so the
// template layer (about a hundred lines) is ours; each path inside the braces is evaluated
// by jsonpath-plus, which covers kubectl's path syntax (`.a.b`, `..a`, `[*]`, `[0]`,
// `[1:3]`, `[?(@.a=="b")]`, `['key.with.dots']`). Missing fields print nothing, as with
// kubectl's default --allow-missing-template-keys=true.

export class TemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`jsonpath template "${template}": ${reason}`);
    this.name = 'TemplateError';
  }
}

type Node = { text: string } | { path: string } | { range: string; body: Node[] };

export interface JsonPathTemplate {
  source: string;
  nodes: Node[];
}

/** Parses once, so that a bad template fails before any request is made. */
export function parseTemplate(source: string): JsonPathTemplate {
  const stack: Array<{ range: string; body: Node[] }> = [{ range: '', body: [] }];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    if (open < 0) {
      current(stack).push({ text: rest });
      break;
    }
    if (open > 0) current(stack).push({ text: rest.slice(0, open) });
    const close = closingBrace(rest, open);
    if (close < 0) throw new TemplateError(source, `unclosed "{" at "${rest.slice(open)}"`);
    addExpression(stack, rest.slice(open + 1, close).trim(), source);
    rest = rest.slice(close + 1);
  }
  if (stack.length > 1) throw new TemplateError(source, '{range …} without its {end}');
  return { source, nodes: stack[0]?.body ?? [] };
}

function current(stack: Array<{ body: Node[] }>): Node[] {
  return stack[stack.length - 1]?.body ?? [];
}

/** The `}` that ends the expression opened at `open`; quoted text may hold braces. */
function closingBrace(text: string, open: number): number {
  let quote: string | undefined;
  for (let index = open + 1; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (char === '\\') index++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '}') return index;
  }
  return -1;
}

function addExpression(stack: Array<{ range: string; body: Node[] }>, expression: string, source: string): void {
  if (expression === '') throw new TemplateError(source, 'an empty {}');
  if (expression === 'end') {
    if (stack.length === 1) throw new TemplateError(source, '{end} without a {range …}');
    const finished = stack.pop();
    if (finished) current(stack).push(finished);
    return;
  }
  const range = /^range\s+(.+)$/.exec(expression);
  if (range?.[1] !== undefined) {
    stack.push({ range: toJsonPath(range[1]), body: [] });
    return;
  }
  if (/^["']/.test(expression)) {
    current(stack).push({ text: quotedText(expression, source) });
    return;
  }
  current(stack).push({ path: toJsonPath(expression) });
}

/** `{"\t"}` is JSON-escaped text; `{'x'}` is taken as written. */
function quotedText(expression: string, source: string): string {
  try {
    if (expression.startsWith('"')) return JSON.parse(expression) as string;
  } catch {
    throw new TemplateError(source, `${expression} is not a quoted string`);
  }
  if (expression.length < 2 || !expression.endsWith("'"))
    throw new TemplateError(source, `${expression} is not a quoted string`);
  return expression.slice(1, -1);
}

/**
 * kubectl paths are relative to the current object (`.a`, `@.a`, `$.a` alike);
 * jsonpath-plus wants `$`. kubectl's escaped dot (`labels.luma\.dev/kind`) becomes
 * bracket notation, which both understand.
 */
export function toJsonPath(path: string): string {
  const relative = path.replace(/^[$@]/, '');
  const escaped = relative.replace(
    /\.((?:[^.[\\]|\\.)*\\\.(?:[^.[\\]|\\.)*)/g,
    (_match, segment: string) => `['${segment.replace(/\\\./g, '.')}']`,
  );
  if (escaped === '') return '$';
  return escaped.startsWith('.') || escaped.startsWith('[') ? `$${escaped}` : `$.${escaped}`;
}

/** What a path matched: an empty list for a missing field. */
export function evaluatePath(path: string, json: unknown, source: string): unknown[] {
  try {
    return JSONPath({ path, json: json as object, wrap: true }) as unknown[];
  } catch (error) {
    throw new TemplateError(source, error instanceof Error ? error.message : String(error));
  }
}

/** kubectl prints scalars bare and maps or lists as JSON; several matches space-separated. */
export function printValues(values: unknown[]): string {
  return values
    .map((value) => (typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)))
    .join(' ');
}

export function renderTemplate(template: JsonPathTemplate, json: unknown): string {
  return renderNodes(template.nodes, json, template.source);
}

function renderNodes(nodes: Node[], json: unknown, source: string): string {
  let out = '';
  for (const node of nodes) {
    if ('text' in node) out += node.text;
    else if ('path' in node) out += printValues(evaluatePath(node.path, json, source));
    else for (const item of evaluatePath(node.range, json, source)) out += renderNodes(node.body, item, source);
  }
  return out;
}
