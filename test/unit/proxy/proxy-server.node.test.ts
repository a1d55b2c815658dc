import { proxyServerSuite } from './proxy-server.cases.js';

// The proxy-server suite with node:http alone (fastPath: false).
proxyServerSuite(false);
