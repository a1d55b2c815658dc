import { randomBytes } from 'node:crypto';

// One-time sign-in codes: `luma console` asks the API for one (with the token it already
// has) and prints a link that carries the code in the URL's fragment, which browsers never
// send to a server. The console's page trades the code for a session cookie and erases it
// from the address bar. A code works once and only for a short while, so a link copied
// out of a terminal's scrollback later is worthless.

export const SIGN_IN_CODE_TTL_MS = 2 * 60 * 1000;
/** Enough to refuse a flood of requests for codes without ever holding much memory. */
const MAX_PENDING = 100;

export class SignInCodes {
  private readonly pending = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(): { code: string; expiresAt: string } {
    this.forgetExpired();
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    const code = randomBytes(24).toString('base64url');
    const expires = this.now() + SIGN_IN_CODE_TTL_MS;
    this.pending.set(code, expires);
    return { code, expiresAt: new Date(expires).toISOString() };
  }

  /** True once per issued code, within its lifetime. */
  redeem(code: string): boolean {
    const expires = this.pending.get(code);
    if (expires === undefined) return false;
    this.pending.delete(code);
    return expires > this.now();
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [code, expires] of this.pending) if (expires <= now) this.pending.delete(code);
  }
}
