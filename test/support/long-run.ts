import type { BackendName } from './runtime-backend.js';

// `make test-long` (LUMA_E2E_LONG=1) runs what `make test` keeps short to stay within the
// house's 20 minutes: the e2e files' Swarm variants and the long forms of the request
// limits (a 90 s answer). `make test` still runs the Docker variants, the short forms and
// the Swarm driver's integration tests (docs/testing.md).

export const LONG_E2E = process.env.LUMA_E2E_LONG === '1';

/** The runtimes an e2e file that runs on both is run on: Swarm only in the long run. */
export const E2E_BACKENDS: BackendName[] = LONG_E2E ? ['docker', 'swarm'] : ['docker'];
