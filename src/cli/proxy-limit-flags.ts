import type { Command } from 'commander';
import { Option } from 'commander';
import { parseDuration, QuantityError } from '../model/quantities.js';
import type { ClientLimits } from '../proxy/proxy-server.js';
import { CliError } from './api-client.js';

// The flags that set the proxy's client deadlines and connection cap, shared by the two
// processes that run a proxy (`luma proxy run`, `luma up`), each with its LUMA_PROXY_…
// twin. Absent flags leave PROXY_DEFAULTS in force (src/proxy/proxy-server.ts).

export interface ProxyLimitFlags {
  headersTimeout?: number;
  bodyTimeout?: number;
  sendTimeout?: number;
  keepAliveTimeout?: number;
  upgradeTimeout?: number;
  http2IdleTimeout?: number;
  maxConnections?: number;
}

/** Parses a duration flag (`30s`, `1m30s`, `500ms`) into milliseconds. */
export function duration(flag: string): (value: string) => number {
  return (value) => {
    try {
      return parseDuration(value);
    } catch (error) {
      throw new CliError(`${flag}: ${error instanceof QuantityError ? error.message : String(error)}`);
    }
  };
}

/** A deadline of zero would mean none: refused, since every stage must have one. */
function positiveDuration(flag: string): (value: string) => number {
  const parse = duration(flag);
  return (value) => {
    const ms = parse(value);
    if (ms <= 0) throw new CliError(`${flag}: expected a duration above zero, got "${value}"`);
    return ms;
  };
}

export function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    if (!/^[1-9]\d*$/.test(value.trim()))
      throw new CliError(`${flag}: expected a whole number above zero, got "${value}"`);
    return Number(value.trim());
  };
}

const DURATION_FLAGS: ReadonlyArray<[flag: string, env: string, help: string]> = [
  [
    '--headers-timeout',
    'LUMA_PROXY_HEADERS_TIMEOUT',
    'how long a client may take to send a request head, and a TLS handshake (default 30s)',
  ],
  [
    '--body-timeout',
    'LUMA_PROXY_BODY_TIMEOUT',
    'a request body with no byte for this long is cut off; not a total (default 30s)',
  ],
  [
    '--send-timeout',
    'LUMA_PROXY_SEND_TIMEOUT',
    'a client that takes no byte of its response for this long is cut off; not a total (default 1m)',
  ],
  [
    '--keep-alive-timeout',
    'LUMA_PROXY_KEEP_ALIVE_TIMEOUT',
    'an HTTP/1.1 connection with no request under way is closed after this long (default 65s)',
  ],
  [
    '--upgrade-timeout',
    'LUMA_PROXY_UPGRADE_TIMEOUT',
    'how long an app may take to answer a WebSocket upgrade before a 504 (default 30s)',
  ],
  [
    '--http2-idle-timeout',
    'LUMA_PROXY_HTTP2_IDLE_TIMEOUT',
    'an HTTP/2 session with no stream open is closed after this long (default 2m)',
  ],
];

export function addProxyLimitFlags(command: Command): Command {
  for (const [flag, env, help] of DURATION_FLAGS)
    command.addOption(new Option(`${flag} <duration>`, help).env(env).argParser(positiveDuration(flag)));
  return command.addOption(
    new Option(
      '--max-connections <n>',
      'open client connections across the public listeners; more are closed at once (default 10000)',
    )
      .env('LUMA_PROXY_MAX_CONNECTIONS')
      .argParser(positiveInteger('--max-connections')),
  );
}

export function proxyLimitsFrom(flags: ProxyLimitFlags): Partial<ClientLimits> {
  const limits: Partial<ClientLimits> = {};
  if (flags.headersTimeout !== undefined) limits.headersTimeoutMs = flags.headersTimeout;
  if (flags.bodyTimeout !== undefined) limits.bodyTimeoutMs = flags.bodyTimeout;
  if (flags.sendTimeout !== undefined) limits.sendTimeoutMs = flags.sendTimeout;
  if (flags.keepAliveTimeout !== undefined) limits.keepAliveTimeoutMs = flags.keepAliveTimeout;
  if (flags.upgradeTimeout !== undefined) limits.upgradeTimeoutMs = flags.upgradeTimeout;
  if (flags.http2IdleTimeout !== undefined) limits.http2IdleTimeoutMs = flags.http2IdleTimeout;
  if (flags.maxConnections !== undefined) limits.maxConnections = flags.maxConnections;
  return limits;
}
