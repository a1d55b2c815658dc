"""New TLS connections, one after the other, for bench/https.ts.

Usage: python3 tls-connections.py HOST PORT SECONDS full|resumed

Each connection makes a TLS handshake (SNI HOST, ALPN http/1.1, no certificate check: the
benchmark's own self-signed certificate), sends one HTTP/1.1 request with Connection:
close and reads the answer to its end, as a browser's first request does. "full" never
offers a session; "resumed" offers the ticket the previous connection received (TLS 1.3
sends it after the handshake: reading the answer is what receives it). Prints one line:
"connections N seconds S resumed R failed F".

A client in Python rather than openssl s_time, which cannot send SNI (the proxies refuse
a handshake without it) and gets no TLS 1.3 ticket without a request, or h2load, which
resumes every connection after a client's first and so cannot measure full handshakes.
Several of these run side by side to load the server.
"""

import socket
import ssl
import sys
import time


def main() -> None:
    host, port, seconds, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")
    session = None
    connections = resumed = failed = 0
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                offered = session if mode == "resumed" else None
                with context.wrap_socket(raw, server_hostname=host, session=offered) as tls:
                    tls.sendall(request)
                    while tls.recv(65536):
                        pass
                    if tls.session_reused:
                        resumed += 1
                    session = tls.session
            connections += 1
        except (OSError, ssl.SSLError):
            failed += 1
    elapsed = time.monotonic() - started
    print(f"connections {connections} seconds {elapsed:.3f} resumed {resumed} failed {failed}", flush=True)


if __name__ == "__main__":
    main()
