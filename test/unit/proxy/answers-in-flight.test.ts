import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AnswersInFlight } from '../../../src/proxy/answers-in-flight.js';

// An upgrade pipelined behind answers still under way waits for them, per socket.

const answer = (): ServerResponse => new EventEmitter() as unknown as ServerResponse;

describe('AnswersInFlight', () => {
  it('settles at once for a socket with no answer under way', async () => {
    await expect(new AnswersInFlight().settled(new PassThrough())).resolves.toBeUndefined();
  });

  it('settles only once every answer on that socket has closed, whatever other sockets do', async () => {
    const answers = new AnswersInFlight();
    const socket = new PassThrough();
    const other = new PassThrough();
    const [first, second, elsewhere] = [answer(), answer(), answer()];
    answers.track(socket, first);
    answers.track(socket, second);
    answers.track(other, elsewhere);
    let settled = false;
    const waiting = answers.settled(socket).then(() => (settled = true));
    first.emit('close');
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled, 'one answer still under way').toBe(false);
    second.emit('close');
    await waiting;
    expect(settled).toBe(true);
    let otherSettled = false;
    void answers.settled(other).then(() => (otherSettled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(otherSettled).toBe(false);
  });
});
