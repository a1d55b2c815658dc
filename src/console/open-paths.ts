// What of the console a browser reaches before it has a session: the pages and their
// files, and signing in and out. Minting a sign-in code is not among them: it needs the
// API token, which is how `luma console` asks for one.

export const CONSOLE_PREFIX = '/console';
export const SESSION_PATH = `${CONSOLE_PREFIX}/session`;
export const SIGN_IN_CODES_PATH = `${CONSOLE_PREFIX}/sign-in-codes`;

export function isConsoleOpenPath(method: string, pathname: string): boolean {
  if (pathname === SESSION_PATH) return method === 'POST' || method === 'DELETE';
  if (pathname === SIGN_IN_CODES_PATH) return false;
  const isPage = pathname === CONSOLE_PREFIX || pathname.startsWith(`${CONSOLE_PREFIX}/`);
  return isPage && (method === 'GET' || method === 'HEAD');
}
