import type { ObjectStore } from '../store/store.js';

// `spec.image` of a Project names an Image object (its last ready build runs) or is an
// image reference. Shared by everything that starts a project's containers.

export type ResolvedImage = { ref: string } | { waitingFor: string };

export function resolveProjectImage(store: ObjectStore, declared: string): ResolvedImage {
  const image = store.get('Image', declared);
  if (!image) return { ref: declared };
  if (image.status?.image) return { ref: image.status.image };
  const ready = image.status?.conditions?.find((condition) => condition.type === 'Ready');
  const phase = image.status?.phase ?? 'Pending';
  return { waitingFor: `image "${declared}" is ${phase}${ready?.message ? `: ${ready.message}` : ''}` };
}
