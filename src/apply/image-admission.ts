import { matchesImagePattern } from '../model/image-pattern.js';
import type { ImageObject } from '../model/types.js';

// The operator's image allowlist: which images may run. Pure; apply.ts asks it about
// every Project, Lease and Image it is about to store.

export interface ImageDecision {
  allowed: boolean;
  /**
   * What decided: the pattern that allowed the image, or the allowlist that refused it.
   * Absent when there is no allowlist (every image is allowed).
   */
  rule?: string;
}

/**
 * Docker runs `sha256:<id>` as that image, and a bare hex name (`e5276c38`) as the local
 * image whose ID starts so when no repository has that name: the allowlist would judge a
 * name Docker never uses. With a tag (`e5276c38:latest`) the name is only a name.
 */
const IMAGE_ID_LIKE = /^(?:sha256:)?[0-9a-f]+$/;
const IMAGE_ID_RULE = 'image IDs';

export function checkImageAllowed(reference: string, allowlist: readonly string[] | undefined): ImageDecision {
  if (allowlist === undefined) return { allowed: true };
  if (IMAGE_ID_LIKE.test(reference)) return { allowed: false, rule: IMAGE_ID_RULE };
  const pattern = allowlist.find((candidate) => matchesImagePattern(candidate, reference));
  if (pattern !== undefined) return { allowed: true, rule: pattern };
  return { allowed: false, rule: `operator setting imageAllowlist [${allowlist.join(', ')}]` };
}

/** What an Image object produces, as the allowlist sees it. */
export interface ImageSource {
  reference: string;
  /** How the reference was found, for messages: `what Image "web" builds`. */
  via?: string;
}

/**
 * A build is tagged `luma/<instance>/<name>:<hash of its context>`. The hash is not known
 * when the Image is applied, so builds are judged by `luma/<instance>/<name>`: allow them
 * with a pattern such as `luma/**` or `luma/<instance>/*`.
 */
export function builtImageRepository(instance: string, imageName: string): string {
  return `luma/${instance}/${imageName}`;
}

export function sourceOfImage(image: ImageObject, instance: string): ImageSource {
  if (image.spec.ref !== undefined)
    return { reference: image.spec.ref, via: `what Image "${image.metadata.name}" pulls` };
  return {
    reference: builtImageRepository(instance, image.metadata.name),
    via: `what Image "${image.metadata.name}" builds`,
  };
}

/** A Project's `spec.image` names an Image object when one exists by that name, else it is a reference (as the reconciler reads it). */
export function sourceOfProjectImage(
  declared: string,
  findImage: (name: string) => ImageObject | undefined,
  instance: string,
): ImageSource {
  const image = findImage(declared);
  return image ? sourceOfImage(image, instance) : { reference: declared };
}

/** `image "luma/default/web" (what Image "web" builds)`: the subject of a refusal. */
export function describeImageSource(source: ImageSource): string {
  return `image "${source.reference}"${source.via ? ` (${source.via})` : ''}`;
}

/** Why the allowlist refuses `reference` (`it matches no pattern of …`), or undefined when it allows it. */
export function imageRefusal(reference: string, allowlist: readonly string[] | undefined): string | undefined {
  const decision = checkImageAllowed(reference, allowlist);
  if (decision.allowed) return undefined;
  if (decision.rule === IMAGE_ID_RULE) {
    return `Docker may read "${reference}" as the ID of a local image, which the image allowlist cannot judge; name the image by its repository and a tag instead`;
  }
  if (allowlist !== undefined && allowlist.length === 0)
    return 'the operator setting imageAllowlist is empty, so no image may run';
  return `it matches no pattern of the ${decision.rule ?? 'image allowlist'}`;
}
