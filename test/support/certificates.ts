import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificatePem } from '../../src/proxy/tls/certificate.js';

// Self-signed certificates with chosen dates and names, made in memory for unit tests of
// the certificate store, manager and listener (no CA, no openssl process).

// @peculiar/x509 uses globalThis.crypto, Node's WebCrypto.

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function pem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

let serial = 1;

export async function makeCertificate(options: {
  hosts: string[];
  notBefore: number;
  notAfter: number;
}): Promise<CertificatePem> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name: `CN=${options.hosts[0] ?? 'test'}`,
    notBefore: new Date(options.notBefore),
    notAfter: new Date(options.notAfter),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension(options.hosts.map((host) => ({ type: 'dns' as const, value: host }))),
    ],
  });
  const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: certificate.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', keyDer) };
}
