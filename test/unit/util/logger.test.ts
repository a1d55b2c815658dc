import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chooseLogFormat, createLogger, type LogFormat } from '../../../src/util/logger.js';

// Text on a terminal, JSON elsewhere; --log-format, then LUMA_LOG_FORMAT, decide first.

async function firstLine(format: LogFormat): Promise<string> {
  const stream = new PassThrough();
  let output = '';
  stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const logger = createLogger({ format, stream, name: 'controller' });
  logger.info({ key: 'Project/hello' }, 'reconciled');
  for (let tries = 0; tries < 50 && !output.includes('\n'); tries++) await new Promise((r) => setTimeout(r, 10));
  return output.split('\n')[0] ?? '';
}

describe('the log format', () => {
  it.each([
    [{ isTTY: true }, 'text'],
    [{ isTTY: false }, 'json'],
    [{ isTTY: true, flag: 'json' }, 'json'],
    [{ isTTY: false, flag: 'text' }, 'text'],
    [{ isTTY: true, env: 'json' }, 'json'],
    [{ isTTY: false, env: 'text' }, 'text'],
    [{ isTTY: false, env: 'text', flag: 'json' }, 'json'],
  ] as const)('%o gives %s', (options, expected) => {
    expect(chooseLogFormat(options)).toBe(expected);
  });

  it('writes JSON lines for machines', async () => {
    const record = JSON.parse(await firstLine('json')) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 30, component: 'controller', key: 'Project/hello', msg: 'reconciled' });
  });

  it('writes one readable line for a person: time, level, component, message, fields', async () => {
    const line = await firstLine('text');
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: controller: reconciled \{"key":"Project\/hello"\}$/);
  });
});
