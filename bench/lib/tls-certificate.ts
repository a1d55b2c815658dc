import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

// One self-signed ECDSA P-256 certificate for the TLS benchmarks, served by every proxy
// under test, so that the handshakes they are compared on sign with the same key type.
// Files are named HOST.crt and HOST.key, the names `luma proxy run --certificates-dir`
// reads; nginx and Caddy are given the same two paths.

export interface CertificateFiles {
  host: string;
  certFile: string;
  keyFile: string;
}

export async function writeEcdsaCertificate(dir: string, host: string): Promise<CertificateFiles> {
  await mkdir(dir, { recursive: true });
  const certFile = path.join(dir, `${host}.crt`);
  const keyFile = path.join(dir, `${host}.key`);
  // A literal list of arguments; host is the benchmark's own constant.
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${host}`,
    '-addext',
    `subjectAltName=DNS:${host}`,
  ]);
  return { host, certFile, keyFile };
}
