import type { ScanReply, ScanRequestMessage } from '../../../src/sync/scan-protocol.js';

// A scan worker process that fails as the last segment of the requested directory says:
// `crash` throws, `exit` exits, `hang` loops forever, `garbage` answers something that is
// not a scan reply, `stranger` names unchanged a file it was not told of, `fails` reports a
// scan that failed; any other directory is found empty.

if (!process.send) throw new Error('a child process with a channel');
const send = (reply: unknown): void => {
  process.send?.(reply);
};

process.on('message', (request: ScanRequestMessage) => {
  const fault = request.dir.split('/').pop();
  if (fault === 'crash') throw new Error('boom in the scan');
  if (fault === 'exit') process.exit(3);
  if (fault === 'hang') for (;;);
  if (fault === 'garbage') return send({ hello: 'world' });
  if (fault === 'fails')
    return send({ id: request.id, type: 'failed', message: 'too many entries' } satisfies ScanReply);
  if (fault === 'stranger')
    send({ id: request.id, type: 'unchanged', files: [{ file: 'never-told.yaml' }] } satisfies ScanReply);
  send({ id: request.id, type: 'done', exists: true, refused: [], writing: [] } satisfies ScanReply);
});
process.on('disconnect', () => process.exit(0));
send({ id: 0, type: 'ready' } satisfies ScanReply);
