import { proxyServerSuite } from './proxy-server.cases.js';

// The proxy-server suite with the fast path in front of node:http, as Luma runs.
proxyServerSuite(true);
