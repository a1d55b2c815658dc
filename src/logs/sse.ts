// Server-sent events (text/event-stream), both ways: the API writes them, the CLI reads
// them. Only what log streams use: named events, one JSON data line each, and comments.

export interface SseMessage {
  /** `message` when the event had no name. */
  event: string;
  data: string;
}

export function sseEvent(data: unknown, event?: string): string {
  // JSON.stringify escapes newlines, so the data is always a single `data:` line.
  return `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** Reads an event stream as it arrives, in pieces cut anywhere. */
export class SseParser {
  private buffered = '';
  private event = '';
  private data: string[] = [];

  push(text: string): SseMessage[] {
    this.buffered += text;
    const messages: SseMessage[] = [];
    let newline: number;
    while ((newline = this.buffered.search(/\r\n|\r|\n/)) >= 0) {
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (this.buffered[newline] === '\r' && newline === this.buffered.length - 1) break;
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + (this.buffered.startsWith('\r\n', newline) ? 2 : 1));
      this.line(line, messages);
    }
    return messages;
  }

  private line(line: string, messages: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) messages.push({ event: this.event || 'message', data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}
