import { describe, expect, it } from 'vitest';
import { openedSecrets, scrubbedError, scrubbingSecrets, scrubSecrets } from '../../../src/secrets/scrub.js';

const opened = openedSecrets(
  { BIN: 'AB\0CD-hunter2', QUOTED: 'say "hi"\n', PLAIN: 'not-secret' },
  { BIN: { name: 'db', key: 'bin' }, QUOTED: { name: 'db', key: 'quoted' } },
);

class EngineError extends Error {
  constructor(
    message: string,
    readonly json: { message: string },
  ) {
    super(message);
  }
}

describe('scrubSecrets', () => {
  it('replaces a value as is, quoted as JSON, as Go %q, and escaped twice', () => {
    expect(scrubSecrets('raw AB\0CD-hunter2.', opened)).toBe('raw <secret db/bin>.');
    expect(scrubSecrets(`runc: "BIN=AB\\x00CD-hunter2"`, opened)).toBe('runc: "BIN=<secret db/bin>"');
    expect(scrubSecrets(`json: "BIN=AB\\u0000CD-hunter2"`, opened)).toBe('json: "BIN=<secret db/bin>"');
    expect(scrubSecrets(`{"message":"\\"BIN=AB\\\\x00CD-hunter2\\""}`, opened)).toContain('<secret db/bin>');
    expect(scrubSecrets(`"QUOTED=say \\"hi\\"\\n"`, opened)).toBe('"QUOTED=<secret db/quoted>"');
  });

  it('leaves variables that come from no Secret, and text without a value, as they are', () => {
    expect(opened.map((secret) => secret.key)).toEqual(['bin', 'quoted']);
    expect(scrubSecrets('PLAIN=not-secret', opened)).toBe('PLAIN=not-secret');
  });
});

describe('scrubbedError', () => {
  it('scrubs message, stack and fields, and keeps the class', async () => {
    const refused = new EngineError('start failed: "BIN=AB\\x00CD-hunter2"', { message: 'BIN=AB\\x00CD-hunter2' });
    const thrown = await scrubbingSecrets(opened, () => Promise.reject(refused)).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(EngineError);
    const scrubbed = thrown as EngineError;
    expect(scrubbed.message).toBe('start failed: "BIN=<secret db/bin>"');
    expect(scrubbed.json).toEqual({ message: 'BIN=<secret db/bin>' });
    expect(`${scrubbed.stack ?? ''}${JSON.stringify(scrubbed)}`).not.toContain('hunter2');
  });

  it('gives back an error that quotes no value as it is', () => {
    const other = new Error('port is already allocated');
    expect(scrubbedError(other, opened)).toBe(other);
    expect(scrubbedError('BIN=AB\0CD-hunter2', opened)).toEqual(new Error('BIN=<secret db/bin>'));
  });
});
