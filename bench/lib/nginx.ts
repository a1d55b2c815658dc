import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateFiles } from './tls-certificate.js';

// The nginx baseline: one worker, HTTP/1.1 keep-alive to the backend, no access log,
// the same X-Forwarded-* headers Luma adds, and no cap on requests per connection
// (nginx closes client and upstream connections after 1000 by default; Node never does). Everything it writes stays under prefix.

export async function writeNginxConfig(prefix: string, listenPort: number, backendPort: number): Promise<string[]> {
  return writeConfig(prefix, backendPort, `listen 127.0.0.1:${listenPort};`, 4096);
}

/**
 * The same with TLS: HTTPS with HTTP/2 offered through ALPN, TLS 1.2 and 1.3 (nginx 1.22
 * leaves 1.3 out by default), session tickets on (nginx's default), and room for the
 * benchmark's ten thousand idle connections.
 */
export async function writeNginxTlsConfig(
  prefix: string,
  listenPort: number,
  backendPort: number,
  certificate: CertificateFiles,
  maxConnections: number,
): Promise<string[]> {
  const listen = `listen 127.0.0.1:${listenPort} ssl http2;
    server_name ${certificate.host};
    ssl_certificate ${certificate.certFile};
    ssl_certificate_key ${certificate.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;`;
  return writeConfig(prefix, backendPort, listen, maxConnections);
}

async function writeConfig(
  prefix: string,
  backendPort: number,
  listen: string,
  workerConnections: number,
): Promise<string[]> {
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const config = `
worker_processes 1;
worker_rlimit_nofile ${workerConnections * 2};
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events {
  worker_connections ${workerConnections};
}
http {
  access_log off;
  client_body_temp_path ${prefix}/temp/client_body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    ${listen}
    keepalive_requests 1000000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
  const file = path.join(prefix, 'nginx.conf');
  await writeFile(file, config);
  // -e: nginx opens its error log before reading the config; keep even that one under prefix.
  return ['-p', prefix, '-c', file, '-e', path.join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'];
}
