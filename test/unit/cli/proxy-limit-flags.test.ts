import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addProxyLimitFlags, proxyLimitsFrom, type ProxyLimitFlags } from '../../../src/cli/proxy-limit-flags.js';
import { clientLimits, PROXY_DEFAULTS } from '../../../src/proxy/proxy-server.js';

// The proxy's deadline and cap flags: parsed into milliseconds, refused when zero or not a
// number, taken from their LUMA_PROXY_… twins, and absent ones left to PROXY_DEFAULTS.

function parse(args: string[], env: Record<string, string> = {}): ProxyLimitFlags {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const command = addProxyLimitFlags(
      new Command('run').exitOverride().configureOutput({ writeErr: () => undefined }),
    );
    command.parse(args, { from: 'user' });
    return command.opts<ProxyLimitFlags>();
  } finally {
    process.env = saved;
  }
}

describe('proxy limit flags', () => {
  it('parses each flag and maps it to its limit; the rest keep their defaults', () => {
    const flags = parse(
      [
        '--body-timeout',
        '2s',
        '--send-timeout',
        '45s',
        '--keep-alive-timeout',
        '1m',
        '--upgrade-timeout',
        '500ms',
        '--http2-idle-timeout',
        '90s',
        '--max-connections',
        '20',
      ],
      { LUMA_PROXY_HEADERS_TIMEOUT: '5s' },
    );
    expect(clientLimits(proxyLimitsFrom(flags))).toEqual({
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 2_000,
      sendTimeoutMs: 45_000,
      keepAliveTimeoutMs: 60_000,
      upgradeTimeoutMs: 500,
      http2IdleTimeoutMs: 90_000,
      maxConnections: 20,
    });
    expect(clientLimits(proxyLimitsFrom(parse([])))).toMatchObject({
      bodyTimeoutMs: PROXY_DEFAULTS.bodyTimeoutMs,
      maxConnections: PROXY_DEFAULTS.maxConnections,
    });
  });

  it('refuses a zero deadline and a cap that is not a whole number above zero', () => {
    expect(() => parse(['--body-timeout', '0s'])).toThrow(/--body-timeout: expected a duration above zero/);
    expect(() => parse(['--max-connections', '0'])).toThrow(/--max-connections: expected a whole number above zero/);
    expect(() => parse(['--max-connections', '1e3'])).toThrow(/--max-connections/);
    expect(() => parse(['--keep-alive-timeout', 'soon'])).toThrow(/--keep-alive-timeout/);
  });
});
