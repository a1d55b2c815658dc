import { useEffect, useState } from 'preact/hooks';
import type { ConnectionState, Feed } from './feed.js';

// Views read feeds through this hook: it subscribes for as long as the view is shown and
// re-renders on every change the feed reports.

export interface FeedView<T> {
  items: T[];
  state: ConnectionState;
  get(key: string): T | undefined;
  lastSeen(key: string): T | undefined;
  revision: number;
}

export function useFeed<T>(feed: Feed<T>): FeedView<T> {
  const [, setRevision] = useState(feed.revision);
  useEffect(() => feed.subscribe(() => setRevision(feed.revision)), [feed]);
  return {
    items: feed.list(),
    state: feed.state,
    get: (key) => feed.get(key),
    lastSeen: (key) => feed.lastSeen(key),
    revision: feed.revision,
  };
}

/** Re-renders every `intervalMs`: for countdowns and "3 s ago" that must tick. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
