import type { ManifestIssue } from './types.js';

// Every request the console makes: same origin, the session cookie sent by the browser,
// and on writes the header that proves the request comes from the console's own page
// (see src/console/session.ts). A refusal becomes an ApiError with the API's own message,
// and a 401 tells the app the session is gone.

export const API = '/api/v1alpha1';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly issues: ManifestIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when any request finds the session gone. */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function reportSignedOut(): void {
  for (const listener of signedOutListeners) listener();
}

export interface RequestBody {
  json?: unknown;
  yaml?: string;
}

/** `signingIn`: a refused sign-in is not a session that ended. */
export async function call<T>(method: string, path: string, body?: RequestBody, signingIn = false): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-luma-console'] = '1';
  let payload: string | undefined;
  if (body?.yaml !== undefined) {
    headers['content-type'] = 'application/yaml';
    payload = body.yaml;
  } else if (body?.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  }
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: payload ?? null });
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) throw refusal(response.status, parsed, text, signingIn);
  return parsed as T;
}

function refusal(status: number, parsed: unknown, text: string, signingIn: boolean): ApiError {
  if (status === 401 && !signingIn) reportSignedOut();
  const body = parsed as { message?: string; issues?: ManifestIssue[] } | undefined;
  return new ApiError(body?.message ?? (text || `HTTP ${status}`), status, body?.issues ?? []);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
