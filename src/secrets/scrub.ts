import type { SecretKeyRef } from '../model/types.js';

// Secret values out of the engine's errors. Docker quotes a variable it refuses in its
// error (runc: `environment variable value can't contain null(\x00): "NAME=value"`), and
// a start failure's message goes to status, events, Luma's logs and webhooks. Each value
// opened for a container is replaced there by `<secret NAME/KEY>`, in every form an error
// may quote it: as is, escaped as JSON or Go's %q, and those escaped once more.

/** One value opened for a container, and where it came from. */
export interface OpenedSecret {
  secret: string;
  key: string;
  value: string;
}

/** The opened values among `env`: the variables `refs` says come from Secrets. */
export function openedSecrets(
  env: Record<string, string>,
  refs: Record<string, SecretKeyRef> | undefined,
): OpenedSecret[] {
  const opened: OpenedSecret[] = [];
  for (const [variable, ref] of Object.entries(refs ?? {})) {
    const value = env[variable];
    if (value) opened.push({ secret: ref.name, key: ref.key, value });
  }
  return opened;
}

/** `text` with every form of every opened value replaced by `<secret NAME/KEY>`. */
export function scrubSecrets(text: string, opened: readonly OpenedSecret[]): string {
  let scrubbed = text;
  // Longest first, so that a value containing another is replaced whole.
  const forms = opened.flatMap((secret) => formsOf(secret.value).map((form) => ({ form, secret })));
  forms.sort((a, b) => b.form.length - a.form.length);
  for (const { form, secret } of forms) scrubbed = scrubbed.split(form).join(`<secret ${secret.secret}/${secret.key}>`);
  return scrubbed;
}

/**
 * Runs `work`; an error it throws that quotes an opened value is thrown again scrubbed
 * (scrubbedError). An error that quotes none is thrown as it is.
 */
export async function scrubbingSecrets<T>(opened: readonly OpenedSecret[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw scrubbedError(error, opened);
  }
}

/**
 * The error with every opened value scrubbed from its message, stack and fields (an
 * engine's error also carries its answer's body), of the same class, so that callers
 * still tell a crash from a refusal; the error itself when it quotes no value.
 */
export function scrubbedError(error: unknown, opened: readonly OpenedSecret[]): unknown {
  if (opened.length === 0) return error;
  if (!(error instanceof Error)) {
    const text = String(error);
    return scrubSecrets(text, opened) === text ? error : new Error(scrubSecrets(text, opened));
  }
  const fields = Object.getOwnPropertyNames(error);
  const changed = fields.some((field) => {
    const text = textOf(Reflect.get(error, field));
    return scrubSecrets(text, opened) !== text;
  });
  if (!changed) return error;
  const scrubbed = Object.create(Object.getPrototypeOf(error) as object) as Error;
  for (const field of fields) {
    const value = scrubbedField(Reflect.get(error, field), opened);
    if (value !== undefined)
      Object.defineProperty(scrubbed, field, {
        value,
        writable: true,
        configurable: true,
        enumerable: field !== 'stack' && field !== 'message',
      });
  }
  return scrubbed;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** A string or JSON-like field scrubbed; anything else (a cause, a function) dropped. */
function scrubbedField(value: unknown, opened: readonly OpenedSecret[]): unknown {
  if (typeof value === 'string') return scrubSecrets(value, opened);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (value === null || typeof value !== 'object' || value instanceof Error) return undefined;
  try {
    return JSON.parse(scrubSecrets(JSON.stringify(value), opened)) as unknown;
  } catch {
    return undefined;
  }
}

function formsOf(value: string): string[] {
  const once = [value, jsonBody(value), goQuotedBody(value)];
  const twice = once.flatMap((form) => [jsonBody(form), goQuotedBody(form)]);
  return [...new Set([...once, ...twice])].filter((form) => form.length > 0);
}

function jsonBody(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** The inside of Go's strconv.Quote(value), as runc and Docker quote a refused variable. */
function goQuotedBody(value: string): string {
  let quoted = '';
  for (const char of value) quoted += goEscape(char);
  return quoted;
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

function goEscape(char: string): string {
  const escaped = GO_ESCAPES[char];
  if (escaped) return escaped;
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(char)) return char;
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x80) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}
