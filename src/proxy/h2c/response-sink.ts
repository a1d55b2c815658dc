import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ServerResponse } from 'node:http';

// Where an h2c app's answer goes: the client's HTTP/2 stream (HTTP/2 end to end, trailers
// as trailers) or its HTTP/1.1 response (translated: trailers go in the chunked body's
// trailer section, the only place HTTP/1.1 has for them).

export interface ResponseSink {
  /** Whether the response head has gone to the client. */
  readonly headersSent: boolean;
  /** An interim (1xx) head: only 103 Early Hints is passed on. */
  informational(status: number, headers: OutgoingHttpHeaders): void;
  /** The final head; `ended` when no body follows. */
  respond(status: number, headers: OutgoingHttpHeaders, ended: boolean): void;
  /** False when the client is not keeping up (wait for onceDrain). */
  write(chunk: Buffer): boolean;
  onceDrain(listener: () => void): void;
  end(trailers: OutgoingHttpHeaders | undefined): void;
  /** Cuts the response midway: the app failed (its HTTP/2 error code goes on to an HTTP/2 client) or the client stalled. */
  cut(code: number): void;
  /** Calls `listener` once if the client goes away before the response ends. */
  onGone(listener: () => void): void;
}

export class Http2StreamSink implements ResponseSink {
  private trailers: OutgoingHttpHeaders | undefined;

  constructor(private readonly stream: ServerHttp2Stream) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  informational(status: number, headers: OutgoingHttpHeaders): void {
    if (status !== 103 || headers.link === undefined || this.stream.headersSent) return;
    try {
      this.stream.additionalHeaders({ ...headers, ':status': status });
    } catch {
      // A hint node:http2 will not write: dropped, the response goes on.
    }
  }

  respond(status: number, headers: OutgoingHttpHeaders, ended: boolean): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (ended) {
      stream.respond({ ...headers, ':status': status }, { endStream: true });
      return;
    }
    // Trailers are known only at the end: the stream waits for them after its last DATA.
    stream.respond({ ...headers, ':status': status }, { waitForTrailers: true });
    // A stream cut (closed) meanwhile also asks for trailers: it gets none, or its reset would read as a clean end.
    stream.once('wantTrailers', () => {
      if (!stream.closed && !stream.destroyed) stream.sendTrailers(this.trailers ?? {});
    });
  }

  write(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }

  onceDrain(listener: () => void): void {
    this.stream.once('drain', listener);
  }

  end(trailers: OutgoingHttpHeaders | undefined): void {
    this.trailers = trailers;
    this.stream.end();
  }

  cut(code: number): void {
    if (!this.stream.closed) this.stream.close(code);
  }

  onGone(listener: () => void): void {
    this.stream.once('close', listener);
  }
}

export class Http1ResponseSink implements ResponseSink {
  constructor(private readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  informational(status: number, headers: OutgoingHttpHeaders): void {
    if (status !== 103 || headers.link === undefined) return;
    try {
      this.res.writeEarlyHints(headers as Record<string, string | string[]>);
    } catch {
      // A Link value node:http will not write: dropped, the response goes on.
    }
  }

  respond(status: number, headers: OutgoingHttpHeaders, ended: boolean): void {
    this.res.writeHead(status, headers);
    if (ended) this.res.end();
    // Event streams must reach the client event by event: the head is not held back.
    else this.res.flushHeaders();
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(listener: () => void): void {
    this.res.once('drain', listener);
  }

  end(trailers: OutgoingHttpHeaders | undefined): void {
    // Sent only when the body is chunked (the app gave no Content-Length); otherwise dropped, as HTTP/1.1 must.
    if (trailers) this.res.addTrailers(trailers);
    this.res.end();
  }

  cut(): void {
    this.res.destroy();
  }

  onGone(listener: () => void): void {
    this.res.once('close', () => {
      if (!this.res.writableFinished) listener();
    });
  }
}
