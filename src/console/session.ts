import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

// The console's session: an HttpOnly, SameSite=Strict cookie that stands for the API
// token, so that the token itself never sits in a URL or in storage scripts can read.
//
// The cookie is stateless: an expiry and an HMAC of it, keyed by a digest of the API
// token. Every process serving the API (luma up, luma controller) accepts it without
// sharing state, it survives a restart, and a new token (a deleted token file) ends every
// session at once.
//
// Writes made with the cookie must also prove they come from the console's own pages:
// SameSite=Strict keeps the cookie off cross-site requests, a custom header cannot be set
// cross-origin without a CORS preflight (which the API never grants), and an Origin
// header, when the browser sends one, must name the API's own host.

export const SESSION_COOKIE = 'luma_console';
/** Sent by the console with every write; a cross-origin page cannot send it. */
export const CONSOLE_HEADER = 'x-luma-console';
/** A working day: long enough not to nag, short enough that a forgotten tab lapses. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ConsoleSessions {
  private readonly key: Buffer;

  constructor(
    token: string,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, so that a cookie's MAC says nothing usable about the token.
    this.key = createHash('sha256').update('luma console session\0').update(token).digest();
  }

  /** The cookie's value for a session that starts now. */
  mint(): string {
    const expires = String(this.now() + SESSION_TTL_MS);
    return `${expires}.${this.mac(expires)}`;
  }

  /** The Set-Cookie header that starts a session. */
  setCookie(secure: boolean): string {
    return cookieHeader(this.mint(), Math.floor(SESSION_TTL_MS / 1000), secure);
  }

  /** True when the request carries a session cookie at all (valid or not). */
  carries(request: FastifyRequest): boolean {
    return readCookie(request.headers.cookie, SESSION_COOKIE) !== undefined;
  }

  /** Why the request's session does not admit it, or undefined when it does. */
  refusalFor(request: FastifyRequest): string | undefined {
    const value = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (value === undefined || !this.valid(value))
      return 'the console session has ended or is not valid: sign in again';
    if (SAFE_METHODS.has(request.method)) return undefined;
    return csrfRefusal(request);
  }

  private valid(value: string): boolean {
    const [expires, mac] = value.split('.', 2);
    if (!expires || !mac || !/^\d+$/.test(expires) || Number(expires) <= this.now()) return false;
    const expected = Buffer.from(this.mac(expires));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(expires: string): string {
    return createHmac('sha256', this.key).update(expires).digest('base64url');
  }
}

/** Why a write with a session cookie may come from another site, or undefined. */
export function csrfRefusal(request: FastifyRequest): string | undefined {
  if (request.headers[CONSOLE_HEADER] !== '1') return `console writes must carry the ${CONSOLE_HEADER}: 1 header`;
  const origin = request.headers.origin;
  if (origin !== undefined && !sameHost(origin, request.headers.host)) {
    return `a console write from ${origin} is refused: only the console's own pages may write`;
  }
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function cookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
