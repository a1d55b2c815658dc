import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';

// HTTPS through the proxy the way a client does it: by IP with the hostname in SNI and
// Host, trusting only the CA a test gives (Pebble's root), on a fresh connection each time.

export interface HttpsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** Serial number of the certificate the proxy served. */
  serial: string;
  protocol: string;
}

export function httpsGet(port: number, host: string, ca: string, urlPath = '/'): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        servername: host,
        headers: { host },
        ca,
        agent: false,
        timeout: 30_000,
      },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            serial,
            protocol: `HTTP/${res.httpVersion}`,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`https request to ${host}${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** One GET over HTTP/2 (offered through ALPN). */
export function http2Get(port: number, host: string, ca: string, urlPath = '/'): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: host, ca });
    session.on('error', reject);
    const stream = session.request({ ':path': urlPath, ':authority': host });
    let body = '';
    let status = 0;
    let headers: HttpsAnswer['headers'] = {};
    stream.setEncoding('utf8');
    stream.on('response', (received) => {
      status = Number(received[':status']);
      headers = received;
    });
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => {
      const socket = session.socket as tls.TLSSocket;
      const answer = {
        status,
        body,
        headers,
        serial: socket.getPeerCertificate().serialNumber,
        protocol: `ALPN ${socket.alpnProtocol || 'none'}`,
      };
      session.close();
      resolve(answer);
    });
    stream.on('error', reject);
  });
}

/** A bare TLS handshake with a server name; resolves with the served serial or the failure. */
export function tlsHandshake(
  port: number,
  serverName: string,
  ca: string,
): Promise<{ serial?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: serverName, ca });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve({ serial });
    });
    socket.once('error', (error) => {
      socket.destroy();
      resolve({ error: error.message });
    });
  });
}
