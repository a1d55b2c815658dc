import type { SecureContext } from 'node:tls';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { CertificateStatus } from '../management.js';
import type { CertificateIssuer } from './acme-issuer.js';
import { loadCertificate, type CertificatePem, type ServedCertificate } from './certificate.js';
import { RENEWAL_DEFAULTS, renewalTime, retryDelay, type RenewalPolicy } from './renewal-policy.js';

// Which certificate each declared host is served with, and keeping it valid: loads an
// operator's files or a stored certificate, orders one when there is none or it is due,
// swaps a renewed one in without a restart, and retries failures with backoff. Only the
// hosts it is told to want ever get an order: a TLS handshake merely looks up what is
// there. Orders run one at a time. Every failure becomes a status, never an exception.

/** Where ACME certificates are kept between runs. */
export interface CertificateStorage {
  loadCertificate(host: string): Promise<CertificatePem | undefined>;
  saveCertificate(host: string, pem: CertificatePem): Promise<void>;
}

export interface CertificateManagerOptions {
  issuer: CertificateIssuer;
  storage: CertificateStorage;
  /** Operator-provided certificates for a host, checked before ACME. */
  provided?: (host: string) => Promise<CertificatePem | undefined>;
  clock: Clock;
  logger: Logger;
  policy?: RenewalPolicy;
  /** A host's status changed (issued, renewed, failed, retried). */
  onChange: (host: string) => void;
}

/** setTimeout cannot wait longer than about 24.8 days; longer waits are re-armed. */
const MAX_TIMER_MS = 24 * 60 * 60_000;

interface HostEntry {
  readonly host: string;
  served: ServedCertificate | undefined;
  source: 'acme' | 'provided';
  status: Omit<CertificateStatus, 'host' | 'notAfter' | 'source'>;
  failures: number;
  timer: unknown;
  queued: boolean;
  forgotten: boolean;
}

function errorReason(error: unknown): string {
  const reason = (error as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : 'IssueFailed';
}

export class CertificateManager {
  private readonly entries = new Map<string, HostEntry>();
  private work: Promise<void> = Promise.resolve();
  private readonly policy: RenewalPolicy;
  private closed = false;

  constructor(private readonly options: CertificateManagerOptions) {
    this.policy = options.policy ?? RENEWAL_DEFAULTS;
  }

  /** The hosts that should have certificates: new ones are loaded or ordered, dropped ones forgotten (their files stay). */
  want(hosts: Iterable<string>): void {
    if (this.closed) return;
    const wanted = new Set([...hosts].map((host) => host.toLowerCase()));
    for (const [host, entry] of this.entries) {
      if (wanted.has(host)) continue;
      entry.forgotten = true;
      this.options.clock.clearTimeout(entry.timer);
      this.entries.delete(host);
    }
    for (const host of wanted) {
      if (this.entries.has(host)) continue;
      const entry: HostEntry = {
        host,
        served: undefined,
        source: 'acme',
        status: { state: 'Pending', reason: 'Loading', message: 'looking for a stored certificate' },
        failures: 0,
        timer: undefined,
        queued: false,
        forgotten: false,
      };
      this.entries.set(host, entry);
      this.enqueue(entry);
    }
  }

  /** The TLS context for a handshake's server name, if that host has a certificate. Never orders one. */
  contextFor(serverName: string): SecureContext | undefined {
    return this.entries.get(serverName.toLowerCase().replace(/\.$/, ''))?.served?.context;
  }

  /** True when the host has a certificate valid right now (so redirecting to HTTPS is safe). */
  hasValidCertificate(host: string): boolean {
    const served = this.entries.get(host)?.served;
    return served !== undefined && served.notAfter > this.options.clock.now();
  }

  status(host: string): CertificateStatus | undefined {
    const entry = this.entries.get(host.toLowerCase());
    if (!entry) return undefined;
    return {
      host: entry.host,
      ...entry.status,
      ...(entry.served ? { notAfter: new Date(entry.served.notAfter).toISOString(), source: entry.source } : {}),
    };
  }

  served(host: string): ServedCertificate | undefined {
    return this.entries.get(host)?.served;
  }

  /** Resolves once no load or order is queued or running (tests, shutdown). */
  async settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.work;
      await current;
    } while (current !== this.work);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      entry.forgotten = true;
      this.options.clock.clearTimeout(entry.timer);
    }
    this.entries.clear();
  }

  private enqueue(entry: HostEntry): void {
    if (entry.queued || entry.forgotten) return;
    entry.queued = true;
    this.work = this.work.then(async () => {
      entry.queued = false;
      if (entry.forgotten) return;
      try {
        await this.converge(entry);
      } catch (error) {
        // converge() turns every expected failure into a status; this is the last guard.
        this.options.logger.error({ host: entry.host, err: (error as Error).message }, 'certificate work failed');
      }
    });
  }

  private async converge(entry: HostEntry): Promise<void> {
    const { logger, clock } = this.options;
    if (!entry.served && (await this.loadExisting(entry))) return;
    const served = entry.served;
    if (served && clock.now() < renewalTime(served.notBefore, served.notAfter, this.policy)) {
      this.setStatus(entry, {
        state: 'Ready',
        reason: 'Stored',
        message: `certificate valid until ${new Date(served.notAfter).toISOString()}`,
      });
      this.schedule(entry, renewalTime(served.notBefore, served.notAfter, this.policy));
      return;
    }
    const renewing = served !== undefined;
    if (!renewing)
      this.setStatus(entry, {
        state: 'Pending',
        reason: 'Ordering',
        message: 'ordering a certificate from the ACME server',
      });
    let issued: ServedCertificate;
    try {
      const pem = await this.options.issuer.issue(entry.host);
      issued = loadCertificate(entry.host, pem);
      await this.options.storage.saveCertificate(entry.host, pem);
    } catch (error) {
      if (entry.forgotten) return;
      entry.failures++;
      const retryAt = clock.now() + retryDelay(entry.failures, this.policy);
      const detail = `${(error as Error).message}; retrying at ${new Date(retryAt).toISOString()}`;
      logger.warn(
        { host: entry.host, failures: entry.failures, err: (error as Error).message },
        renewing ? 'certificate renewal failed' : 'certificate order failed',
      );
      if (served && served.notAfter > clock.now()) {
        this.setStatus(entry, {
          state: 'Ready',
          reason: 'RenewalFailed',
          message: `the current certificate stays until ${new Date(served.notAfter).toISOString()}; renewal failed: ${detail}`,
        });
      } else {
        this.setStatus(entry, { state: 'Failed', reason: errorReason(error), message: detail });
      }
      this.schedule(entry, retryAt);
      return;
    }
    if (entry.forgotten) return;
    entry.served = issued;
    entry.source = 'acme';
    entry.failures = 0;
    logger.info(
      { host: entry.host, serial: issued.serialNumber, notAfter: new Date(issued.notAfter).toISOString() },
      renewing ? 'certificate renewed' : 'certificate obtained',
    );
    this.setStatus(entry, {
      state: 'Ready',
      reason: renewing ? 'Renewed' : 'Issued',
      message: `certificate valid until ${new Date(issued.notAfter).toISOString()}`,
    });
    this.schedule(entry, renewalTime(issued.notBefore, issued.notAfter, this.policy));
  }

  /** True when the host is settled by an operator's certificate (ready or broken), which is never ordered. */
  private async loadExisting(entry: HostEntry): Promise<boolean> {
    const { logger } = this.options;
    let provided: CertificatePem | undefined;
    try {
      provided = await this.options.provided?.(entry.host);
    } catch (error) {
      this.setStatus(entry, { state: 'Failed', reason: 'InvalidCertificate', message: (error as Error).message });
      return true;
    }
    if (provided) {
      try {
        entry.served = loadCertificate(entry.host, provided);
        entry.source = 'provided';
        this.setStatus(entry, {
          state: 'Ready',
          reason: 'Provided',
          message: `operator-provided certificate valid until ${new Date(entry.served.notAfter).toISOString()}`,
        });
      } catch (error) {
        this.setStatus(entry, {
          state: 'Failed',
          reason: 'InvalidCertificate',
          message: `the provided certificate for ${entry.host}: ${(error as Error).message}`,
        });
      }
      return true;
    }
    try {
      const stored = await this.options.storage.loadCertificate(entry.host);
      if (stored) entry.served = loadCertificate(entry.host, stored);
    } catch (error) {
      // A damaged file is replaced by a new order rather than stopping the host for good.
      logger.warn(
        { host: entry.host, err: (error as Error).message },
        'stored certificate unusable; ordering a new one',
      );
    }
    return false;
  }

  private schedule(entry: HostEntry, at: number): void {
    const { clock } = this.options;
    clock.clearTimeout(entry.timer);
    if (this.closed || entry.forgotten) return;
    const delay = Math.max(0, at - clock.now());
    entry.timer = clock.setTimeout(
      () => {
        entry.timer = undefined;
        if (clock.now() < at) this.schedule(entry, at);
        else this.enqueue(entry);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  private setStatus(entry: HostEntry, status: HostEntry['status']): void {
    const previous = entry.status;
    entry.status = status;
    if (previous.state !== status.state || previous.reason !== status.reason || previous.message !== status.message)
      this.options.onChange(entry.host);
  }
}
