import type { WatchEvent, WatchListener } from './store.js';

// The watch listeners of a store (the file store's, the PostgreSQL store's feed): each
// gets its own copy of an event, and one that throws is reported, never breaking the
// write that made the event or the listeners after it.

export class WatchListeners {
  private readonly listeners = new Set<WatchListener>();

  constructor(private readonly onListenerError?: (error: unknown, event: WatchEvent) => void) {}

  /** Subscribes `listener`; returns what unsubscribes it. */
  add(listener: WatchListener): () => void {
    // A wrapper makes each subscription distinct, so subscribing one function twice and
    // unsubscribing once leaves the other subscription in place.
    const subscription: WatchListener = (event) => listener(event);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  emit(event: WatchEvent): void {
    if (this.listeners.size === 0) return;
    // One copy for every listener (see ObjectStore.watch): a copy each was the largest
    // allocation of a 10,000-project apply after the parse (bench/scale).
    const copy: WatchEvent = { type: event.type, object: structuredClone(event.object) };
    for (const listener of [...this.listeners]) {
      // A listener may unsubscribe another while this event is being delivered.
      if (!this.listeners.has(listener)) continue;
      try {
        listener(copy);
      } catch (error) {
        this.report(error, copy);
      }
    }
  }

  private report(error: unknown, event: WatchEvent): void {
    try {
      if (this.onListenerError) return this.onListenerError(error, event);
      const message = error instanceof Error ? error.message : String(error);
      process.emitWarning(
        `a store watch listener threw on ${event.type} ${event.object.kind}/${event.object.metadata.name}: ${message}`,
      );
    } catch {
      // Reporting is best effort: the write already happened and must still resolve.
    }
  }
}
