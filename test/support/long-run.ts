import type { BackendName } from './runtime-backend.js';

// `make test-long` (LUMA_E2E_LONG=1) runs what `make test` keeps short to stay within the
// house's 20 minutes: the long forms of the request limits (a 90 s answer). The Swarm
// variants of scale-to-zero and leases stay in `make test`: issue 22 makes them part of
// what `make test` proves (docs/testing.md).

export const LONG_E2E = process.env.LUMA_E2E_LONG === '1';

/** The runtimes an e2e file that runs on both is run on. */
export const E2E_BACKENDS: BackendName[] = ['docker', 'swarm'];
