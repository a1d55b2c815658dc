import { useEffect, useState } from 'preact/hooks';

// Hash routes (`#/projects/web`): the server serves one page, and links, the back button
// and bookmarks work without it knowing the console's paths.

export type Route =
  | { view: 'overview' }
  | { view: 'project'; name: string }
  | { view: 'image'; name: string }
  | { view: 'leases' }
  | { view: 'apply' }
  | { view: 'usage' }
  | { view: 'studio'; kind?: string; name?: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  if (first === 'projects' && second) return { view: 'project', name: second };
  if (first === 'images' && second) return { view: 'image', name: second };
  if (first === 'leases') return { view: 'leases' };
  if (first === 'apply') return { view: 'apply' };
  if (first === 'usage') return { view: 'usage' };
  if (first === 'studio')
    return { view: 'studio', ...(second ? { kind: second } : {}), ...(third ? { name: third } : {}) };
  return { view: 'overview' };
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
