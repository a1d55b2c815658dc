import type { ServerHttp2Session } from 'node:http2';

// The HTTP/2 session idle timeout: a session with no stream open for this long is closed
// with GOAWAY (streams still open would be let finish; there are none). Unlike a socket
// inactivity timeout, a long response that sends nothing for a while (a held request, an
// event stream between events) is never cut: only a session nobody uses is. One timer per
// session, set when its last stream closes.

export function closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
  if (idleMs <= 0) return;
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => {
      if (!session.closed && !session.destroyed) session.close();
    }, idleMs);
    timer.unref();
  };
  session.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      open--;
      if (open === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once('close', () => clearTimeout(timer));
  arm();
}
