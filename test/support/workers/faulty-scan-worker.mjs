// @ts-check
// A scan worker process that fails as the last segment of the requested directory says:
// `crash` throws, `exit` exits, `hang` loops forever, `garbage` answers something that is
// not a scan reply, `stranger` names unchanged a file it was not told of, `fails` reports a
// scan that failed; any other directory is found empty.
// JavaScript, type-checked from its JSDoc (tsconfig.test.json): a TypeScript entry starts
// with tsx's loader, about 0.3 s of CPU per process, and scan-process.test.ts starts eleven.

/** @typedef {import('../../../src/sync/scan-protocol.js').ScanReply} ScanReply */
/** @typedef {import('../../../src/sync/scan-protocol.js').ScanRequestMessage} ScanRequestMessage */

import process from 'node:process';

if (!process.send) throw new Error('a child process with a channel');
/** @param {unknown} reply */
const send = (reply) => {
  process.send?.(reply);
};

process.on('message', (/** @type {ScanRequestMessage} */ request) => {
  const fault = request.dir.split('/').pop();
  if (fault === 'crash') throw new Error('boom in the scan');
  if (fault === 'exit') process.exit(3);
  if (fault === 'hang') for (;;);
  if (fault === 'garbage') return send({ hello: 'world' });
  if (fault === 'fails')
    return send(/** @satisfies {ScanReply} */ ({ id: request.id, type: 'failed', message: 'too many entries' }));
  if (fault === 'stranger')
    send(/** @satisfies {ScanReply} */ ({ id: request.id, type: 'unchanged', files: [{ file: 'never-told.yaml' }] }));
  send(/** @satisfies {ScanReply} */ ({ id: request.id, type: 'done', exists: true, refused: [], writing: [] }));
});
process.on('disconnect', () => process.exit(0));
send(/** @satisfies {ScanReply} */ ({ id: 0, type: 'ready' }));
