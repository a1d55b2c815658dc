#!/usr/bin/env node
import { runCli } from './main.js';

// `luma-proxy ARGS` is `luma proxy ARGS`: the proxy's daemon and client mode as their own binary.
void runCli([process.argv[0] ?? 'node', process.argv[1] ?? 'luma-proxy', 'proxy', ...process.argv.slice(2)]);
