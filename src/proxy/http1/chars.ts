// Character classes of HTTP/1.1 (RFC 9110 §5.6.2, §5.5), as lookup tables over byte
// values, shared by the request and response head parsers and the chunked-body scanner.

function table(accepts: (code: number) => boolean): Uint8Array {
  const result = new Uint8Array(256);
  for (let code = 0; code < 256; code++) result[code] = accepts(code) ? 1 : 0;
  return result;
}

const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";

/** tchar: what header names, methods and chunk extension names are made of. */
const TOKEN = table(
  (code) =>
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    TOKEN_SYMBOLS.includes(String.fromCharCode(code)),
);

/** field-vchar, SP and HTAB: what a header value may hold (obs-text included, no control bytes). */
const FIELD_VALUE = table((code) => code === 9 || (code >= 32 && code <= 126) || code >= 128);

/** `code` may be NaN (charCodeAt past the end): that is no character of either class. */
export function isTokenChar(code: number): boolean {
  return TOKEN[code] === 1;
}

export function isFieldValueChar(code: number): boolean {
  return FIELD_VALUE[code] === 1;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** One header line as read by readHeaderLine; callers keep one and pass it each time (no allocation per line). */
export interface HeaderLine {
  name: string;
  /** Without the optional whitespace around it. */
  value: string;
  /** Where the next line starts. */
  next: number;
}

/**
 * Reads the `name: value CRLF` line at `index` into `line` and returns undefined, or
 * returns what is wrong with it. A line starting with SP or HTAB (obs-fold) or ':' has no
 * valid name; a bare CR or LF, NUL or another control byte makes the value wrong.
 */
export function readHeaderLine(
  text: string,
  index: number,
  line: HeaderLine,
): 'header name' | 'header value' | undefined {
  const lineStart = index;
  while (index < text.length && isTokenChar(text.charCodeAt(index))) index++;
  if (index === lineStart || text.charCodeAt(index) !== COLON) return 'header name';
  const nameEnd = index;
  index++;
  while (text.charCodeAt(index) === SP || text.charCodeAt(index) === HTAB) index++;
  const valueStart = index;
  let code = text.charCodeAt(index);
  while (isFieldValueChar(code)) code = text.charCodeAt(++index);
  if (code !== CR || text.charCodeAt(index + 1) !== LF) return 'header value';
  let valueEnd = index;
  while (valueEnd > valueStart && (text.charCodeAt(valueEnd - 1) === SP || text.charCodeAt(valueEnd - 1) === HTAB))
    valueEnd--;
  line.name = text.slice(lineStart, nameEnd);
  line.value = text.slice(valueStart, valueEnd);
  line.next = index + 2;
  return undefined;
}
