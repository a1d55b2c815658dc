import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls, { type SecureContext } from 'node:tls';
import { CIPHER_OPTIONS } from './cipher-preference.js';

// A certificate the HTTPS listener can serve: its PEM chain and key, the dates the renewal
// schedule needs, and the TLS context built once (a handshake only looks it up).

export interface CertificatePem {
  /** The leaf first, then the intermediates. */
  certPem: string;
  keyPem: string;
}

export interface ServedCertificate extends CertificatePem {
  notBefore: number;
  notAfter: number;
  serialNumber: string;
  context: SecureContext;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** Parses and checks a PEM pair: it must cover `host` and the key must match the leaf. */
export function loadCertificate(host: string, pem: CertificatePem): ServedCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pem.certPem);
  } catch (error) {
    throw new CertificateError(`not a PEM certificate (${(error as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(pem.keyPem));
  } catch (error) {
    throw new CertificateError(`not a PEM private key (${(error as Error).message})`);
  }
  if (!matches) throw new CertificateError('the private key does not belong to the certificate');
  if (leaf.checkHost(host) === undefined)
    throw new CertificateError(
      `the certificate does not cover ${host} (it is for ${leaf.subjectAltName ?? leaf.subject})`,
    );
  return {
    ...pem,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    serialNumber: leaf.serialNumber,
    context: tls.createSecureContext({ cert: pem.certPem, key: pem.keyPem, ...CIPHER_OPTIONS }),
  };
}
