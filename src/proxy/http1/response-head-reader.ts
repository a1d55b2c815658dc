import { parseResponseHead, type ResponseHead } from './response-head.js';

// Reads an upstream's response heads out of the chunks it sends, for both paths that use
// the upstream pool (HTTP/1.1's fast path and HTTP/2's streams): a head split over reads
// is kept (copied, as the pool reuses its read buffer), 1xx heads are handed on one by one,
// and the final head comes back with where its body starts.

export type HeadRead =
  | { kind: 'final'; head: ResponseHead; buffer: Buffer; bodyStart: number }
  | { kind: 'invalid'; reason: string }
  | { kind: 'incomplete' };

const INCOMPLETE: HeadRead = { kind: 'incomplete' };

export class ResponseHeadReader {
  private partial: Buffer | undefined;

  constructor(private readonly maxHeadBytes: number) {}

  /** Part of a head has been read and the rest has not. */
  get pending(): boolean {
    return this.partial !== undefined;
  }

  /** Forgets a partial head (a new upstream, or the exchange ended). */
  reset(): void {
    this.partial = undefined;
  }

  /**
   * Reads on from `chunk` (which may be the pool's read buffer: nothing keeps it), calling
   * `informational` for each 1xx head before the final one.
   */
  read(chunk: Buffer, method: string, informational: (head: ResponseHead, buffer: Buffer) => void): HeadRead {
    const buffer = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    let offset = 0;
    for (;;) {
      const result = parseResponseHead(buffer, offset, method, this.maxHeadBytes);
      if (result.kind === 'incomplete') {
        this.partial = Buffer.from(buffer.subarray(offset));
        return INCOMPLETE;
      }
      if (result.kind === 'invalid') return { kind: 'invalid', reason: result.reason };
      const head = result.head;
      offset += head.length;
      if (!head.informational) return { kind: 'final', head, buffer, bodyStart: offset };
      informational(head, buffer);
    }
  }
}
