// `--listen 127.0.0.1:8080`, `--listen :8080` or `--listen 8080`.

export interface ListenAddress {
  host: string;
  port: number;
}

export class ListenAddressError extends Error {
  constructor(flag: string, value: string) {
    super(`${flag}: expected HOST:PORT such as 127.0.0.1:8080 (port 0 picks a free one), got "${value}"`);
    this.name = 'ListenAddressError';
  }
}

export function parseListenAddress(value: string, flag: string): ListenAddress {
  const match = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port > 65535) throw new ListenAddressError(flag, value);
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { host, port };
}
