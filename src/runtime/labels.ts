import type { Kind } from '../model/types.js';

// Docker labels say who owns a container, so that a restarted controller finds its
// containers again and a container whose spec hash changed is replaced.

export const LABEL_PREFIX = 'luma.dev/';
export const LABELS = {
  managed: `${LABEL_PREFIX}managed`,
  /** Which Luma installation (or test run) owns the container. */
  instance: `${LABEL_PREFIX}instance`,
  kind: `${LABEL_PREFIX}kind`,
  name: `${LABEL_PREFIX}name`,
  uid: `${LABEL_PREFIX}uid`,
  specHash: `${LABEL_PREFIX}spec-hash`,
  port: `${LABEL_PREFIX}port`,
  /** What the container is for; see ContainerRole. */
  role: `${LABEL_PREFIX}role`,
  /** The memory limit it was created with, in bytes (absent: none declared); admission by memory adds these up. */
  memory: `${LABEL_PREFIX}memory`,
  /** The project Revision an instance runs (absent on containers made before revisions). */
  revision: `${LABEL_PREFIX}revision`,
} as const;

/**
 * `instance`: serves a project's hostnames; `pool`: started and ready, waiting for a lease
 * of its project to claim it; `lease`: dedicated to one lease; `revision`: serves an older
 * revision of its project that spec.traffic still sends requests to (or a tag reaches).
 */
export const CONTAINER_ROLES = ['instance', 'pool', 'lease', 'revision'] as const;
export type ContainerRole = (typeof CONTAINER_ROLES)[number];

export function isContainerRole(value: unknown): value is ContainerRole {
  return typeof value === 'string' && (CONTAINER_ROLES as readonly string[]).includes(value);
}

/**
 * Labels cannot change after a container is created, but its name can: a pool container
 * a lease claims is renamed to this, and so is every lease container from the start. The
 * name then says which lease owns it, and Docker's unique names make a second container
 * for the same lease impossible.
 */
export function leaseContainerName(instance: string, lease: { name: string; uid: string }): string {
  return `luma-${instance}.lease.${lease.name}.${lease.uid}`;
}

const LEASE_NAME_PATTERN = /^luma-(.+)\.lease\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([0-9a-zA-Z-]+)$/;

/** The lease a container name says owns it, if it is a lease container of this instance. */
export function leaseFromContainerName(instance: string, containerName: string): OwnerRef | undefined {
  const match = LEASE_NAME_PATTERN.exec(containerName.replace(/^\//, ''));
  if (!match || match[1] !== instance || !match[2] || !match[4]) return undefined;
  return { kind: 'Lease', name: match[2], uid: match[4] };
}

export interface OwnerRef {
  kind: Kind;
  name: string;
  uid: string;
}

export function ownerLabels(
  instance: string,
  owner: OwnerRef,
  specHash: string,
  port: number,
  role: ContainerRole = 'instance',
): Record<string, string> {
  return {
    [LABELS.role]: role,
    [LABELS.managed]: 'true',
    [LABELS.instance]: instance,
    [LABELS.kind]: owner.kind,
    [LABELS.name]: owner.name,
    [LABELS.uid]: owner.uid,
    [LABELS.specHash]: specHash,
    [LABELS.port]: String(port),
  };
}
