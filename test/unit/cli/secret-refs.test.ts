import { describe, expect, it } from 'vitest';
import { formatSecretRefs } from '../../../src/cli/secret-refs.js';
import type { SecretObject } from '../../../src/model/types.js';

const db: SecretObject = {
  apiVersion: 'luma.dev/v1alpha1',
  kind: 'Secret',
  metadata: { name: 'db' },
  spec: { type: 'Opaque', data: { password: { digest: 'hmac-sha256:0123456789abcdef' } } },
};

describe('formatSecretRefs', () => {
  it('shows each variable as set with its digest, or unset with the reason', () => {
    const text = formatSecretRefs(
      {
        DB_PASSWORD: { name: 'db', key: 'password' },
        DB_USER: { name: 'db', key: 'user' },
        API_KEY: { name: 'api', key: 'key' },
      },
      (name) => (name === 'db' ? db : undefined),
    );
    expect(text).toBe(
      [
        'Secrets:',
        '  DB_PASSWORD: secret/db key password: set hmac-sha256:0123456789abcdef',
        '  DB_USER: secret/db key user: unset (no key "user")',
        '  API_KEY: secret/api key key: unset (secret "api" does not exist)',
        '',
      ].join('\n'),
    );
  });
});
