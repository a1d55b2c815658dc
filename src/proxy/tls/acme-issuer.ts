import acme from 'acme-client';
import type { Logger } from '../../util/logger.js';
import type { CertificatePem } from './certificate.js';
import type { AcmeStorage } from './certificate-files.js';
import type { Http01Challenges } from './http01-challenges.js';

// Obtains one certificate per host from an ACME server with the HTTP-01 challenge
// (acme-client does the protocol). The account key is created once per directory URL and
// kept; the account itself is registered at the first order and its URL kept too.

export const LETS_ENCRYPT_DIRECTORY = acme.directory.letsencrypt.production;

/** What the certificate manager needs from a CA: tests give it a fake. */
export interface CertificateIssuer {
  issue(host: string): Promise<CertificatePem>;
}

export interface AcmeIssuerOptions {
  storage: AcmeStorage;
  challenges: Http01Challenges;
  /** The contact address (`set-global-option --lets-encrypt-email`), read at registration. */
  email: () => string | undefined;
  logger: Logger;
}

/** An ACME failure, named so a condition can carry it. */
export class AcmeError extends Error {
  constructor(
    readonly reason: 'AcmeUnreachable' | 'AcmeRefused',
    message: string,
  ) {
    super(message);
    this.name = 'AcmeError';
  }
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

function toAcmeError(error: unknown, directoryUrl: string): AcmeError {
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? String(error);
  if (typeof code === 'string' && NETWORK_ERRORS.has(code))
    return new AcmeError('AcmeUnreachable', `cannot reach the ACME server ${directoryUrl}: ${message}`);
  return new AcmeError('AcmeRefused', `the ACME server ${directoryUrl} refused: ${message}`);
}

export class AcmeIssuer implements CertificateIssuer {
  private client: acme.Client | undefined;

  constructor(private readonly options: AcmeIssuerOptions) {}

  async issue(host: string): Promise<CertificatePem> {
    const { storage, challenges, logger } = this.options;
    try {
      const client = await this.account();
      const [keyBuffer, csr] = await acme.crypto.createCsr(
        { commonName: host, altNames: [host] },
        await acme.crypto.createPrivateEcdsaKey(),
      );
      const started = Date.now();
      const certPem = await client.auto({
        csr,
        challengePriority: ['http-01'],
        termsOfServiceAgreed: true,
        // acme-client's own pre-check would fetch http://HOST/ on port 80 from here, which
        // says nothing about what the CA sees (and fails behind NAT or on another port).
        skipChallengeVerification: true,
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          if (challenge.type === 'http-01') challenges.add(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          if (challenge.type === 'http-01') challenges.remove(challenge.token);
        },
      });
      logger.info({ host, directory: storage.directoryUrl, ms: Date.now() - started }, 'certificate issued');
      return { certPem, keyPem: keyBuffer.toString() };
    } catch (error) {
      throw error instanceof AcmeError ? error : toAcmeError(error, storage.directoryUrl);
    }
  }

  /** The account client, registering the account on first use. */
  private async account(): Promise<acme.Client> {
    if (this.client) return this.client;
    const { storage } = this.options;
    let stored = await storage.loadAccount();
    if (!stored) {
      const keyPem = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await storage.saveAccountKey(keyPem);
      stored = { keyPem };
    }
    const client = new acme.Client({
      directoryUrl: storage.directoryUrl,
      accountKey: stored.keyPem,
      ...(stored.url ? { accountUrl: stored.url } : {}),
      // Poll order and challenge status every second or so rather than acme-client's 5 s.
      backoffMin: 1_000,
      backoffMax: 10_000,
      backoffAttempts: 12,
    });
    if (!stored.url) {
      const email = this.options.email();
      await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
      await storage.saveAccountUrl(client.getAccountUrl());
    }
    this.client = client;
    return client;
  }
}
