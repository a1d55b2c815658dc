import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateFiles } from './tls-certificate.js';

// The Caddy baseline for TLS: a JSON config (no Caddyfile adapter, no surprises) that
// serves one host with the given certificate and reverse-proxies to the backend. Nothing
// reaches the network: no admin endpoint, no automatic HTTPS (so no ACME and no HTTP
// redirect listener), HTTP/3 off (wrk and h2load speak TCP), and its storage and
// autosaved config stay under prefix.

export interface CaddyStart {
  args: string[];
  env: NodeJS.ProcessEnv;
}

export async function writeCaddyConfig(
  prefix: string,
  listenPort: number,
  backendPort: number,
  certificate: CertificateFiles,
): Promise<CaddyStart> {
  await mkdir(prefix, { recursive: true });
  const config = {
    admin: { disabled: true, config: { persist: false } },
    storage: { module: 'file_system', root: path.join(prefix, 'storage') },
    logging: { logs: { default: { level: 'ERROR' } } },
    apps: {
      tls: { certificates: { load_files: [{ certificate: certificate.certFile, key: certificate.keyFile }] } },
      http: {
        servers: {
          bench: {
            listen: [`127.0.0.1:${listenPort}`],
            protocols: ['h1', 'h2'],
            automatic_https: { disable: true },
            tls_connection_policies: [{}],
            routes: [
              {
                match: [{ host: [certificate.host] }],
                handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${backendPort}` }] }],
              },
            ],
          },
        },
      },
    },
  };
  const file = path.join(prefix, 'caddy.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  return {
    args: ['run', '--config', file],
    // HOME and XDG dirs under prefix: Caddy writes nothing in the user's home.
    env: {
      ...process.env,
      HOME: prefix,
      XDG_DATA_HOME: path.join(prefix, 'data'),
      XDG_CONFIG_HOME: path.join(prefix, 'config'),
    },
  };
}
