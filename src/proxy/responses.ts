import type { ServerResponse } from 'node:http';

// Every answer the proxy makes itself (rather than the app) is written here, so
// their status codes and wording are decided in one place.

export const RETRY_AFTER_SECONDS = 5;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

export const respond = {
  health(res: ServerResponse): void {
    send(res, 200, 'ok\n');
  },
  badRequest(res: ServerResponse, reason: string): void {
    send(res, 400, `Luma: ${reason}.\n`);
  },
  missingHost(res: ServerResponse): void {
    send(res, 400, 'Luma: the request has no Host header, so it cannot be routed.\n');
  },
  unknownHost(res: ServerResponse, host: string): void {
    send(res, 404, `Luma: no project is routed for host "${host}".\n`);
  },
  startupTimeout(res: ServerResponse, service: string, timeoutMs: number): void {
    send(res, 503, `Luma: ${service} did not become ready within ${timeoutMs / 1000}s; try again shortly.\n`, {
      'retry-after': String(RETRY_AFTER_SECONDS),
    });
  },
  unavailable(res: ServerResponse, service: string, reason: string): void {
    send(res, 503, `Luma: ${service} is unavailable: ${reason}\n`, { 'retry-after': String(RETRY_AFTER_SECONDS) });
  },
  serviceRemoved(res: ServerResponse, host: string): void {
    send(res, 404, `Luma: the project for host "${host}" was removed while the request waited.\n`);
  },
  gatewayTimeout(res: ServerResponse, service: string, timeoutMs: number): void {
    send(res, 504, `Luma: ${service} did not answer within ${timeoutMs / 1000}s.\n`);
  },
  shuttingDown(res: ServerResponse): void {
    send(res, 503, 'Luma: the proxy is shutting down; try again shortly.\n', { 'retry-after': '1', connection: 'close' });
  },
  httpsRequired(res: ServerResponse, location: string): void {
    send(res, 301, `Luma: moved to ${location}\n`, { location });
  },
  badGateway(res: ServerResponse, service: string, detail: string): void {
    send(res, 502, `Luma: ${service} did not answer (${detail}).\n`);
  },
};
