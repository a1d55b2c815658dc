// The drivers `--runtime` chooses between; apart from select-runtime.ts so that the CLI
// can list them without loading dockerode.
export const RUNTIME_NAMES = ['docker', 'swarm'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];
