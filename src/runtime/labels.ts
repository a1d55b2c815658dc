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
} as const;

export interface OwnerRef {
  kind: Kind;
  name: string;
  uid: string;
}

export function ownerLabels(instance: string, owner: OwnerRef, specHash: string, port: number): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.instance]: instance,
    [LABELS.kind]: owner.kind,
    [LABELS.name]: owner.name,
    [LABELS.uid]: owner.uid,
    [LABELS.specHash]: specHash,
    [LABELS.port]: String(port),
  };
}
