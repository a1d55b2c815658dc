import { respond, type ProxyAnswer } from '../responses.js';

// HTTP-01 answers (RFC 8555 §8.3): while an order is in progress the ACME server fetches
// http://HOST/.well-known/acme-challenge/TOKEN from the plain HTTP listener and expects
// the key authorization. Tokens live only in memory, for the life of their order.

export const CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';

export function isChallengePath(url: string | undefined): boolean {
  return url?.startsWith(CHALLENGE_PATH_PREFIX) ?? false;
}

export class Http01Challenges {
  private readonly answers = new Map<string, string>();

  add(token: string, keyAuthorization: string): void {
    this.answers.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.answers.delete(token);
  }

  get size(): number {
    return this.answers.size;
  }

  /**
   * Answers a challenge request for a token of an order in progress. Anything else, an
   * unknown token included, is left to the caller (the app behind may answer its own).
   */
  answer(url: string): ProxyAnswer | undefined {
    if (!isChallengePath(url)) return undefined;
    const token = url.slice(CHALLENGE_PATH_PREFIX.length).split('?')[0] ?? '';
    const keyAuthorization = this.answers.get(token);
    return keyAuthorization === undefined ? undefined : respond.acmeChallenge(keyAuthorization);
  }
}
