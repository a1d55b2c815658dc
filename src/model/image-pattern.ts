// Image patterns of the operator's allowlist, matched against image references as
// written (no normalisation: `busybox` and `docker.io/library/busybox` are different
// strings, so an unlisted spelling is refused, never let through).
//
// - `*` matches any characters within one path segment (not `/`);
// - `**` matches any characters across segments (`registry.example.com/**`);
// - everything else matches itself;
// - a pattern without a tag or digest also matches every tag and digest of what it
//   names: `busybox` allows `busybox:1.36` and `busybox@sha256:…`, while `busybox:1.36`
//   allows that tag only.
//
// A hand-written matcher rather than picomatch or minimatch: neither is a dependency of
// Luma, and their extra syntax (braces, `?`, classes, extglobs) would only make rules
// harder to read for image references.

const PATTERN_CHARACTERS = /^[A-Za-z0-9._\-/:@*]+$/;

/** Why `pattern` is not a usable image pattern, or undefined when it is. */
export function imagePatternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'expected an image pattern such as registry.example.com/team/*, got an empty string';
  if (!PATTERN_CHARACTERS.test(pattern)) {
    return `expected an image pattern made of the characters of an image reference and *, got ${JSON.stringify(pattern)}`;
  }
  if (pattern.includes('***')) return `expected * or ** but not three stars in a row, got ${JSON.stringify(pattern)}`;
  return undefined;
}

const compiled = new Map<string, RegExp>();

function toRegExp(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (!regexp) {
    const body = pattern
      .split('**')
      .map((part) =>
        part
          .split('*')
          .map((literal) => literal.replace(/[.\\^$+?()[\]{}|]/g, '\\$&'))
          .join('[^/]*'),
      )
      .join('.*');
    regexp = new RegExp(`^${body}$`);
    compiled.set(pattern, regexp);
  }
  return regexp;
}

/** `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`. */
export function repositoryOf(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon === -1 ? withoutDigest : withoutDigest.slice(0, colon);
}

function namesTagOrDigest(pattern: string): boolean {
  return pattern.includes('@') || pattern.slice(pattern.lastIndexOf('/') + 1).includes(':');
}

export function matchesImagePattern(pattern: string, reference: string): boolean {
  const regexp = toRegExp(pattern);
  if (regexp.test(reference)) return true;
  return !namesTagOrDigest(pattern) && regexp.test(repositoryOf(reference));
}
