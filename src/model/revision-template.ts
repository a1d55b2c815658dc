import type { ProjectSpec } from './types.js';

// Which part of a project's spec is what runs, and so makes a revision when it changes:
// the controller records revisions by it, `luma diff` and the watched directory say by it
// that a change will make one.

/**
 * Fields that only route or scale a project: a change to them makes no revision. Every
 * other field (image, port, env, command, resources, readiness, and any field added
 * later) shapes what runs, so by default a change to it does.
 */
export const ROUTING_FIELDS: readonly string[] = [
  'hostnames',
  'scaling',
  'pool',
  'leases',
  'tls',
  'traffic',
  'rollout',
  'timeout',
];

/** The project's spec as a revision records it. */
export function templateOf(spec: ProjectSpec): Partial<ProjectSpec> {
  const entries = Object.entries(spec).filter(([field]) => !ROUTING_FIELDS.includes(field));
  return JSON.parse(JSON.stringify(Object.fromEntries(entries))) as Partial<ProjectSpec>;
}
