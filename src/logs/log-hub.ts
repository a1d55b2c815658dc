import { EventEmitter } from 'node:events';

// Live output of builds (and later of containers), keyed like `image/NAME`: what ran
// recently is kept so a late follower sees it, and followers get new text as it comes.

const KEEP_CHARS = 64 * 1024;

export type LogEvent = { type: 'text'; text: string } | { type: 'end' };

export class LogHub {
  private readonly buffers = new Map<string, string>();
  private readonly running = new Set<string>();
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  /** A new run (a build) starts: earlier output is dropped. */
  begin(key: string): void {
    this.buffers.set(key, '');
    this.running.add(key);
  }

  append(key: string, text: string): void {
    const buffer = (this.buffers.get(key) ?? '') + text;
    this.buffers.set(key, buffer.length > KEEP_CHARS ? buffer.slice(-KEEP_CHARS) : buffer);
    this.events.emit(key, { type: 'text', text } satisfies LogEvent);
  }

  end(key: string): void {
    this.running.delete(key);
    this.events.emit(key, { type: 'end' } satisfies LogEvent);
  }

  recent(key: string): string {
    return this.buffers.get(key) ?? '';
  }

  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  subscribe(key: string, listener: (event: LogEvent) => void): () => void {
    this.events.on(key, listener);
    return () => this.events.off(key, listener);
  }
}
