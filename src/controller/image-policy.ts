import { imageRefusal } from '../apply/image-admission.js';

// The operator's image allowlist, checked again whenever a container is about to be made
// or started, not only when a manifest is applied: what a Project's spec.image resolves
// to can change after the apply (its Image object deleted, so the name now means a local
// image of that name; a build with another tag). Shared by the project, pool and lease
// reconcilers.

/** Ready=False reason of a project or lease whose image the allowlist refuses. */
export const IMAGE_NOT_ALLOWED = 'ImageNotAllowed';

/**
 * Why `reference` may not run, naming the image, what it was resolved from and the rule;
 * undefined when it may. `declared` is the project's spec.image.
 */
export function imageNotAllowed(
  reference: string,
  declared: string,
  allowlist: readonly string[] | undefined,
): string | undefined {
  const refusal = imageRefusal(reference, allowlist);
  if (refusal === undefined) return undefined;
  const origin =
    reference === declared
      ? `spec.image "${declared}" names no Image object, so it is run as an image reference`
      : `spec.image "${declared}" resolves to it`;
  return `image "${reference}" is not allowed (${origin}): ${refusal}`;
}
