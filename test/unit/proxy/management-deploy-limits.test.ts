import { describe, expect, it } from 'vitest';
import { ManagementRequestError, parseManagementRequest } from '../../../src/proxy/management-server.js';

// The management socket takes the request timeout, the concurrency cap and the queue
// bound of a deploy (what `luma proxy run` gets from a separate controller), and names
// the field it refuses.

function deployLine(extra: Record<string, unknown>): string {
  return JSON.stringify({ id: 1, type: 'deploy', request: { service: 'web', hosts: ['web.test'], ...extra } });
}

describe('a deploy over the management socket', () => {
  it('carries requestTimeoutMs, maxConcurrency and maxQueued', () => {
    const parsed = parseManagementRequest(deployLine({ requestTimeoutMs: 120_000, maxConcurrency: 1, maxQueued: 20 }));
    expect(parsed).toMatchObject({
      type: 'deploy',
      request: { requestTimeoutMs: 120_000, maxConcurrency: 1, maxQueued: 20 },
    });
  });

  it.each([
    ['requestTimeoutMs', 0],
    ['maxConcurrency', -1],
    ['maxQueued', 'ten'],
  ])('refuses %s: %j, naming the field', (field, value) => {
    expect(() => parseManagementRequest(deployLine({ [field]: value }))).toThrow(ManagementRequestError);
    expect(() => parseManagementRequest(deployLine({ [field]: value }))).toThrow(
      `${field}: expected a positive number`,
    );
  });
});
