import { API } from './http.js';
import { Feed } from './feed.js';
import type { ImageObject, LeaseObject, LumaEvent, LumaObject, ProjectObject } from './types.js';

// One feed per stream for the whole console: a browser keeps at most six connections to
// one host over HTTP/1.1, so views share these four rather than open their own.

function objectFeed<T extends LumaObject>(plural: string): Feed<T> {
  return new Feed<T>({
    url: `${API}/${plural}?watch=true`,
    upserts: ['ADDED', 'MODIFIED'],
    removes: 'DELETED',
    key: (object) => object.metadata.name,
    version: (object) => object.metadata.resourceVersion ?? '',
  });
}

/** The API counts a repeated event on the one it repeats (src/events/event-log.ts): same key, new seq. */
function eventKey(event: LumaEvent): string {
  return [event.object.kind, event.object.name, event.type, event.reason, event.message, event.source].join('\0');
}

export const feeds = {
  projects: objectFeed<ProjectObject>('projects'),
  images: objectFeed<ImageObject>('images'),
  leases: objectFeed<LeaseObject>('leases'),
  events: new Feed<LumaEvent>({
    url: `${API}/events?watch=true`,
    upserts: ['event'],
    key: eventKey,
    version: (event) => String(event.seq),
  }),
};

export type FeedName = keyof typeof feeds;

export function restartFeeds(): void {
  for (const feed of Object.values(feeds)) feed.restart();
}
