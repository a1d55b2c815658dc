import { describe, expect, it } from 'vitest';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { proxyServerSuite } from './proxy-server.cases.js';

// The proxy-server suite with the fast path in front of node:http, as Luma runs.
proxyServerSuite(true);

describe('the proxy-server suite on the fast path', () => {
  it('runs against a proxy whose connections the fast path takes', () => {
    expect(new ProxyServer({ fastPath: true }).fastPathListener(() => undefined)).toBeTypeOf('function');
  });
});
