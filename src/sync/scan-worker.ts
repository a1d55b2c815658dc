// Lowered before anything else loads: the imports below (the YAML parser, the schemas) are
// most of a start's work. Import order is evaluation order.
import './scan-worker-priority.js';
import { errorMessage } from '../util/error-message.js';
import { pacedBy, type DutyCycle } from '../util/duty-cycle.js';
import { readNow, statNow } from './blocking-fs.js';
import { toPortable } from './portable-document.js';
import {
  FILES_PER_PART,
  PROGRESS_EVERY_MS,
  UNCHANGED_PER_PART,
  type PortableUnchangedFile,
  type ScanReply,
  type ScanRequestMessage,
} from './scan-protocol.js';
import { scanDirectory, type KnownFile, type UnchangedFile } from './scan.js';

// The scan's worker process (started by scan-process.ts): reads the watched directory,
// waits for files still being written, parses and validates each file, and sends the
// main process plain data. Everything a scan allocates (file contents, YAML syntax trees)
// stays in this process: its garbage collection, and the helper threads V8 runs it on,
// are this process's, at its low priority (scan-worker-priority.ts), never the proxy's.

/**
 * And at most a quarter of one core, whatever the nice value (duty-cycle.ts). Slices of a
 * few milliseconds (a file's parse or two) keep the pause that a slice can cause a request
 * short. Half a core (4 ms on, 4 off) left the proxy fewer answers during a full pass of
 * 1,000 files (0.48–0.66 of those without one, against 0.59–0.85 at a quarter, in five
 * paired runs: docs/benchmarks.md), for passes about a quarter shorter.
 */
const SCAN_DUTY_CYCLE: DutyCycle = { workMs: 2, restMs: 6 };

const send = (reply: ScanReply): void => {
  process.send?.(reply);
};
if (!process.send) throw new Error('scan-worker runs as a child process with a channel: scan-process.ts starts it');

process.on('message', (request: ScanRequestMessage) => void scan(request));
// The parent is gone (ended, or killed): nothing waits for a scan.
process.on('disconnect', () => process.exit(0));
send({ id: 0, type: 'ready' });

async function scan(request: ScanRequestMessage): Promise<void> {
  let saidAt = Date.now();
  const progress = (): void => {
    if (Date.now() - saidAt < PROGRESS_EVERY_MS) return;
    saidAt = Date.now();
    send({ id: request.id, type: 'progress' });
  };
  try {
    const known = new Map(request.known);
    const result = await scanDirectory(request.dir, {
      writeFinishMs: request.writeFinishMs,
      known,
      stat: statNow,
      read: readNow,
      progress,
      pace: pacedBy(SCAN_DUTY_CYCLE),
    });
    for (let start = 0; start < result.parsed.length; start += FILES_PER_PART) {
      const files = result.parsed
        .slice(start, start + FILES_PER_PART)
        .map((file) => ({ ...file, documents: file.documents.map(toPortable) }));
      send({ id: request.id, type: 'parsed', files });
    }
    for (let start = 0; start < result.unchanged.length; start += UNCHANGED_PER_PART) {
      const files = result.unchanged.slice(start, start + UNCHANGED_PER_PART).map((file) => portable(file, known));
      send({ id: request.id, type: 'unchanged', files });
    }
    const { exists, refused, writing } = result;
    send({ id: request.id, type: 'done', exists, refused, writing });
  } catch (error) {
    send({ id: request.id, type: 'failed', message: errorMessage(error) });
  }
}

/** An unchanged file as the main thread needs it: it knows the rest (scan-protocol.ts). */
function portable(file: UnchangedFile, known: ReadonlyMap<string, KnownFile>): PortableUnchangedFile {
  return file.contentHash === known.get(file.file)?.contentHash
    ? { file: file.file }
    : { file: file.file, contentHash: file.contentHash };
}
