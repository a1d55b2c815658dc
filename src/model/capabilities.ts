// Linux capabilities a container keeps. Docker's default set has 14; an HTTP app needs a
// few of them, and the rest serve special cases (raw sockets, device nodes, chroot, audit
// records, file capabilities) that an attacker inside the app can use against the host or
// its neighbours. Every container starts from none (`CapDrop: ALL`) and gets back
// KEPT_CAPABILITIES plus what its project adds (`spec.securityContext.capabilities.add`).
// docs/security.md says why each kept one stays.

/** Every Linux capability, as Docker and Kubernetes name them (without `CAP_`). */
export const LINUX_CAPABILITIES = [
  'AUDIT_CONTROL',
  'AUDIT_READ',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'BPF',
  'CHECKPOINT_RESTORE',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'PERFMON',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYSLOG',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'WAKE_ALARM',
] as const;

export type Capability = (typeof LINUX_CAPABILITIES)[number];

/**
 * What every container keeps: an entrypoint that prepares files as root and drops to an
 * unprivileged user (CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID), a master process that
 * signals workers running as another user (KILL), and a port below 1024 (NET_BIND_SERVICE).
 */
export const KEPT_CAPABILITIES: readonly Capability[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'KILL',
  'NET_BIND_SERVICE',
  'SETGID',
  'SETUID',
];

export function isCapability(value: unknown): value is Capability {
  return typeof value === 'string' && (LINUX_CAPABILITIES as readonly string[]).includes(value);
}

/** The kept set plus a project's additions, each once and sorted, so the spec hash does not depend on their order. */
export function containerCapabilities(added: readonly Capability[] = []): Capability[] {
  return [...new Set([...KEPT_CAPABILITIES, ...added])].sort();
}
