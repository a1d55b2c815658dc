import { describe, expect, it } from 'vitest';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { proxyServerSuite } from './proxy-server.cases.js';

// The proxy-server suite with node:http alone (fastPath: false).
proxyServerSuite(false);

describe('the proxy-server suite on node:http alone', () => {
  it('runs against a proxy that leaves every connection to node:http', () => {
    expect(new ProxyServer({ fastPath: false }).fastPathListener(() => undefined)).toBeUndefined();
  });
});
