import { isFieldValueChar } from './chars.js';

// Finds where a chunked body ends (RFC 9112 §7.1) while the fast path relays it byte for
// byte. It validates as it goes (hex sizes of bounded length, extensions and trailer
// lines of legal bytes, CRLF where CRLF belongs): a target that frames a body wrongly gets
// its connection cut rather than having the client or the next request misread it.

type State =
  | 'size'
  | 'extension'
  | 'size-lf'
  | 'data'
  | 'data-cr'
  | 'data-lf'
  | 'trailer-start'
  | 'trailer'
  | 'trailer-lf'
  | 'end-lf'
  | 'done';

const CR = 13;
const LF = 10;
/** 12 hex digits: chunks up to 256 TiB, every size an exact JavaScript number. */
const MAX_SIZE_DIGITS = 12;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

export class ChunkedBodyScanner {
  private state: State = 'size';
  private size = 0;
  private sizeDigits = 0;
  private remaining = 0;

  /** The whole body, last chunk and trailers included, has been seen. */
  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Reads `chunk` from `offset` on, and returns how many bytes belong to the body (all of
   * them unless the body ends inside this chunk), or -1 when the framing is invalid.
   * `onData` is given each run of chunk data (chunk[from, to)), for a reader that needs
   * the body without its framing (an HTTP/2 client).
   */
  scan(chunk: Buffer, offset = 0, onData?: (from: number, to: number) => void): number {
    let index = offset;
    const end = chunk.length;
    while (index < end) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, end - index);
          if (onData && take > 0) onData(index, index + take);
          index += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'data-cr';
          continue;
        }
        case 'done':
          return index - offset;
        default:
          break;
      }
      const code = chunk[index] ?? -1;
      index++;
      switch (this.state) {
        case 'size': {
          const digit = hexValue(code);
          if (digit >= 0) {
            if (++this.sizeDigits > MAX_SIZE_DIGITS) return -1;
            this.size = this.size * 16 + digit;
          } else if (this.sizeDigits > 0 && code === 59 /* ; */) this.state = 'extension';
          else if (this.sizeDigits > 0 && code === CR) this.state = 'size-lf';
          else return -1;
          break;
        }
        case 'extension':
          if (code === CR) this.state = 'size-lf';
          else if (!isFieldValueChar(code)) return -1;
          break;
        case 'size-lf':
          if (code !== LF) return -1;
          if (this.size === 0) this.state = 'trailer-start';
          else {
            this.remaining = this.size;
            this.state = 'data';
          }
          this.size = 0;
          this.sizeDigits = 0;
          break;
        case 'data-cr':
          if (code !== CR) return -1;
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (code !== LF) return -1;
          this.state = 'size';
          break;
        case 'trailer-start':
          if (code === CR) this.state = 'end-lf';
          else if (isFieldValueChar(code) && code !== 32 && code !== 9) this.state = 'trailer';
          else return -1;
          break;
        case 'trailer':
          if (code === CR) this.state = 'trailer-lf';
          else if (!isFieldValueChar(code)) return -1;
          break;
        case 'trailer-lf':
          if (code !== LF) return -1;
          this.state = 'trailer-start';
          break;
        case 'end-lf':
          if (code !== LF) return -1;
          this.state = 'done';
          return index - offset;
      }
    }
    return index - offset;
  }
}
