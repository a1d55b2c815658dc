import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

// node:http hands an Upgrade request over the moment it parses it, even when it was
// pipelined behind requests whose answers are still being written on the same socket.
// The upgrade must wait for those answers: taken at once, the socket still belongs to
// the earlier answer, and cutting the connection would lose it (the differential fuzzer
// found a client's 404 lost that way). This counts the answers under way per socket.

interface SocketAnswers {
  count: number;
  settled: Array<() => void>;
}

export class AnswersInFlight {
  private readonly bySocket = new WeakMap<Duplex, SocketAnswers>();

  /** Counts `res` as under way on `socket` until it closes (answered, or the connection gone). */
  track(socket: Duplex, res: ServerResponse): void {
    let answers = this.bySocket.get(socket);
    if (!answers) this.bySocket.set(socket, (answers = { count: 0, settled: [] }));
    answers.count++;
    const entry = answers;
    res.once('close', () => {
      if (--entry.count > 0) return;
      for (const resolve of entry.settled.splice(0)) resolve();
    });
  }

  /** Resolves once no answer is under way on `socket` (at once when none is). */
  settled(socket: Duplex): Promise<void> {
    const answers = this.bySocket.get(socket);
    if (!answers || answers.count === 0) return Promise.resolve();
    return new Promise((resolve) => answers.settled.push(resolve));
  }
}
