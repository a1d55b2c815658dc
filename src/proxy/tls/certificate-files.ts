import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { CertificatePem } from './certificate.js';

// The proxy's certificates on disk, under STATE_DIR/proxy/tls:
//
//   acme/<directory>/account.key          the ACME account's private key (0600)
//   acme/<directory>/account.json         the account URL the server gave it
//   acme/<directory>/certificates/H.json  the chain and private key for host H (0600)
//
// keyed by ACME directory URL, so switching between staging and production never mixes
// accounts or certificates. Every file is written whole and atomically (a certificate and
// its key in one file, so a crash can never pair a new certificate with an old key).

const HOST_FILE = /^[a-z0-9.-]+$/;

function directoryKey(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  const readable = `${url.hostname}${url.port ? `_${url.port}` : ''}`.replace(/[^a-zA-Z0-9.-]/g, '_');
  return `${readable}-${createHash('sha256').update(directoryUrl).digest('hex').slice(0, 8)}`;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface StoredAccount {
  keyPem: string;
  url?: string;
}

export class AcmeStorage {
  readonly dir: string;

  constructor(
    tlsDir: string,
    readonly directoryUrl: string,
  ) {
    this.dir = path.join(tlsDir, 'acme', directoryKey(directoryUrl));
  }

  async loadAccount(): Promise<StoredAccount | undefined> {
    const keyPem = await readOptional(path.join(this.dir, 'account.key'));
    if (!keyPem) return undefined;
    const meta = await readOptional(path.join(this.dir, 'account.json'));
    const url = meta ? (JSON.parse(meta) as { url?: unknown }).url : undefined;
    return { keyPem, ...(typeof url === 'string' ? { url } : {}) };
  }

  async saveAccountKey(keyPem: string): Promise<void> {
    await this.ensureDir(this.dir);
    await writeFileAtomic(path.join(this.dir, 'account.key'), keyPem, { mode: 0o600 });
  }

  async saveAccountUrl(url: string): Promise<void> {
    await this.ensureDir(this.dir);
    await writeFileAtomic(
      path.join(this.dir, 'account.json'),
      JSON.stringify({ url, directoryUrl: this.directoryUrl }, null, 2) + '\n',
      { mode: 0o600 },
    );
  }

  async loadCertificate(host: string): Promise<CertificatePem | undefined> {
    const text = await readOptional(this.certificateFile(host));
    if (!text) return undefined;
    const parsed = JSON.parse(text) as Partial<CertificatePem>;
    if (typeof parsed.certPem !== 'string' || typeof parsed.keyPem !== 'string') return undefined;
    return { certPem: parsed.certPem, keyPem: parsed.keyPem };
  }

  async saveCertificate(host: string, pem: CertificatePem): Promise<void> {
    const dir = path.join(this.dir, 'certificates');
    await this.ensureDir(dir);
    await writeFileAtomic(this.certificateFile(host), JSON.stringify(pem) + '\n', { mode: 0o600 });
  }

  certificateFile(host: string): string {
    if (!HOST_FILE.test(host)) throw new Error(`"${host}" cannot name a certificate file`);
    return path.join(this.dir, 'certificates', `${host}.json`);
  }

  private async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}

/**
 * Certificates an operator provides: DIR/HOST.crt (the chain, leaf first) and DIR/HOST.key.
 * Read when a host is declared; they win over ACME and are never renewed by the proxy.
 */
export async function loadProvidedCertificate(dir: string, host: string): Promise<CertificatePem | undefined> {
  if (!HOST_FILE.test(host)) return undefined;
  const [certPem, keyPem] = await Promise.all([
    readOptional(path.join(dir, `${host}.crt`)),
    readOptional(path.join(dir, `${host}.key`)),
  ]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    throw new Error(`${path.join(dir, host)}: both ${host}.crt and ${host}.key are needed`);
  }
  return { certPem, keyPem };
}
