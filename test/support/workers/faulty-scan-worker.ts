import { parentPort } from 'node:worker_threads';
import type { ScanReply, ScanRequestMessage } from '../../../src/sync/scan-protocol.js';

// A scan worker that fails as the last segment of the requested directory says: `crash`
// throws, `exit` exits, `hang` loops forever, `garbage` answers something that is not a
// scan reply, `fails` reports a scan that failed; any other directory is found empty.

const port = parentPort;
if (!port) throw new Error('a worker thread');

port.on('message', (request: ScanRequestMessage) => {
  const send = (reply: ScanReply): void => port.postMessage(reply);
  const fault = request.dir.split('/').pop();
  if (fault === 'crash') throw new Error('boom in the scan');
  if (fault === 'exit') process.exit(3);
  if (fault === 'hang') for (;;);
  if (fault === 'garbage') return port.postMessage({ hello: 'world' });
  if (fault === 'fails') return send({ id: request.id, type: 'failed', message: 'too many entries' });
  send({ id: request.id, type: 'done', exists: true, refused: [], writing: [], unchanged: [] });
});
port.postMessage({ id: 0, type: 'ready' } satisfies ScanReply);
