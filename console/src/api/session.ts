import { call } from './http.js';

// Signing in and out. The token (or the one-time code of a `luma console` link) goes in a
// request body once; afterwards the browser holds only an HttpOnly cookie.

export function signInWithToken(token: string): Promise<void> {
  return call('POST', '/console/session', { json: { token } }, true);
}

export function signInWithCode(code: string): Promise<void> {
  return call('POST', '/console/session', { json: { code } }, true);
}

export function signOut(): Promise<void> {
  return call('DELETE', '/console/session', undefined, true);
}

/** Whether the cookie this browser holds still opens the API. */
export async function hasSession(): Promise<boolean> {
  const response = await fetch('/api/v1alpha1/projects?name=-', { credentials: 'same-origin' });
  return response.ok;
}

/** A code from the address bar's fragment (`#code=...`), erased from it at once. */
export function takeCodeFromUrl(): string | undefined {
  const match = /^#code=([\w-]+)$/.exec(window.location.hash);
  if (!match) return undefined;
  history.replaceState(null, '', window.location.pathname);
  return match[1];
}
