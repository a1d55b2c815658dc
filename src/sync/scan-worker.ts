import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../util/error-message.js';
import { lowerThreadPriority } from '../util/thread-priority.js';
import { readNow, statNow } from './blocking-fs.js';
import { toPortable } from './portable-document.js';
import { FILES_PER_PART, PROGRESS_EVERY_MS, type ScanReply, type ScanRequestMessage } from './scan-protocol.js';
import { scanDirectory } from './scan.js';

// The scan's worker thread (started by scan-thread.ts): reads the watched directory, waits
// for files still being written, parses and validates each file, and sends the main
// thread plain data. Everything a scan allocates (file contents, YAML syntax trees) stays
// in this thread's heap, so its garbage collection pauses no request.

/** Below the proxy's thread: the scan takes the CPU the requests leave (thread-priority.ts). */
const SCAN_THREAD_NICE = 10;

if (!parentPort) throw new Error('scan-worker runs as a worker thread: scan-thread.ts starts it');
const port = parentPort;
lowerThreadPriority(SCAN_THREAD_NICE);

port.on('message', (request: ScanRequestMessage) => void scan(request));
port.postMessage({ id: 0, type: 'ready' } satisfies ScanReply);

async function scan(request: ScanRequestMessage): Promise<void> {
  const send = (reply: ScanReply): void => port.postMessage(reply);
  let saidAt = Date.now();
  const progress = (): void => {
    if (Date.now() - saidAt < PROGRESS_EVERY_MS) return;
    saidAt = Date.now();
    send({ id: request.id, type: 'progress' });
  };
  try {
    const result = await scanDirectory(request.dir, {
      writeFinishMs: request.writeFinishMs,
      known: new Map(request.known),
      stat: statNow,
      read: readNow,
      progress,
    });
    for (let start = 0; start < result.parsed.length; start += FILES_PER_PART) {
      const files = result.parsed
        .slice(start, start + FILES_PER_PART)
        .map((file) => ({ ...file, documents: file.documents.map(toPortable) }));
      send({ id: request.id, type: 'parsed', files });
    }
    const { exists, refused, writing, unchanged } = result;
    send({ id: request.id, type: 'done', exists, refused, writing, unchanged });
  } catch (error) {
    send({ id: request.id, type: 'failed', message: errorMessage(error) });
  }
}
