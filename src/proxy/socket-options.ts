import type { Socket } from 'node:net';

// The options every TCP socket of the proxy gets, accepted or opened, on every listener.
//
// Nagle's algorithm off: the proxy writes whole messages (a response head and its body,
// an HTTP/2 frame batch, a TLS record) and never benefits from the kernel holding a small
// write back until the previous one is acknowledged. With it on, a response written in two
// parts waited for the client's delayed ACK (40 ms on Linux): every kept-alive HTTP/1.1
// request over TLS took about 44 ms (issue 18). test/unit/proxy/socket-options.test.ts
// checks every listener and upstream connection for it.

export function setSocketOptions(socket: Socket): void {
  socket.setNoDelay(true);
}
