// Character classes of HTTP/1.1 (RFC 9110 §5.6.2, §5.5), as lookup tables over byte
// values, shared by the request and response head parsers and the chunked-body scanner.

function table(accepts: (code: number) => boolean): Uint8Array {
  const result = new Uint8Array(256);
  for (let code = 0; code < 256; code++) result[code] = accepts(code) ? 1 : 0;
  return result;
}

const TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";

/** tchar: what header names, methods and chunk extension names are made of. */
const TOKEN = table((code) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || TOKEN_SYMBOLS.includes(String.fromCharCode(code)));

/** field-vchar, SP and HTAB: what a header value may hold (obs-text included, no control bytes). */
const FIELD_VALUE = table((code) => code === 9 || (code >= 32 && code <= 126) || code >= 128);

/** `code` may be NaN (charCodeAt past the end): that is no character of either class. */
export function isTokenChar(code: number): boolean {
  return TOKEN[code] === 1;
}

export function isFieldValueChar(code: number): boolean {
  return FIELD_VALUE[code] === 1;
}
