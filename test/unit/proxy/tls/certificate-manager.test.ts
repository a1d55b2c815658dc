import { describe, expect, it } from 'vitest';
import { AcmeError, type CertificateIssuer } from '../../../../src/proxy/tls/acme-issuer.js';
import type { CertificatePem } from '../../../../src/proxy/tls/certificate.js';
import { CertificateManager, type CertificateStorage } from '../../../../src/proxy/tls/certificate-manager.js';
import { silentLogger } from '../../../../src/util/logger.js';
import { makeCertificate } from '../../../support/certificates.js';
import { FakeClock } from '../../../support/fakes/fake-clock.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A CA that issues 90-day certificates from the fake clock's now, or fails when told to. */
class FakeIssuer implements CertificateIssuer {
  readonly orders: string[] = [];
  failWith: Error | undefined;
  constructor(private readonly clock: FakeClock) {}

  async issue(host: string): Promise<CertificatePem> {
    this.orders.push(host);
    if (this.failWith) throw this.failWith;
    return makeCertificate({ hosts: [host], notBefore: this.clock.now(), notAfter: this.clock.now() + 90 * DAY });
  }
}

class MemoryStorage implements CertificateStorage {
  readonly files = new Map<string, CertificatePem>();
  async loadCertificate(host: string): Promise<CertificatePem | undefined> {
    return this.files.get(host);
  }
  async saveCertificate(host: string, pem: CertificatePem): Promise<void> {
    this.files.set(host, pem);
  }
}

function setup(options: { provided?: Map<string, CertificatePem | Error> } = {}) {
  const clock = new FakeClock(T0);
  const issuer = new FakeIssuer(clock);
  const storage = new MemoryStorage();
  const changes: string[] = [];
  const manager = new CertificateManager({
    issuer,
    storage,
    clock,
    logger: silentLogger(),
    onChange: (host) => changes.push(host),
    ...(options.provided
      ? {
          provided: async (host: string) => {
            const entry = options.provided?.get(host);
            if (entry instanceof Error) throw entry;
            return entry;
          },
        }
      : {}),
  });
  /** Moves the clock and waits for the work it triggered. */
  const advance = async (ms: number): Promise<void> => {
    await clock.advance(ms);
    await manager.settled();
  };
  return { clock, issuer, storage, manager, changes, advance };
}

describe('CertificateManager', () => {
  it('orders a certificate for a wanted host, stores it and serves it by SNI', async () => {
    const { issuer, storage, manager, changes } = setup();
    manager.want(['app.example.com']);
    await manager.settled();
    expect(issuer.orders).toEqual(['app.example.com']);
    expect(storage.files.has('app.example.com')).toBe(true);
    expect(manager.status('app.example.com')).toMatchObject({
      state: 'Ready',
      reason: 'Issued',
      source: 'acme',
      notAfter: new Date(T0 + 90 * DAY).toISOString(),
    });
    expect(manager.contextFor('APP.example.com.')).toBeDefined();
    expect(manager.hasValidCertificate('app.example.com')).toBe(true);
    expect(changes).toContain('app.example.com');
  });

  it('never orders for a name it was not told to want: a handshake only looks up', async () => {
    const { issuer, manager } = setup();
    manager.want(['app.example.com']);
    await manager.settled();
    expect(manager.contextFor('stranger.example.com')).toBeUndefined();
    await manager.settled();
    expect(issuer.orders).toEqual(['app.example.com']);
    expect(manager.status('stranger.example.com')).toBeUndefined();
  });

  it('serves a stored certificate without a new order, and renews it 30 days before expiry without being asked', async () => {
    const { issuer, storage, manager, advance } = setup();
    const stored = await makeCertificate({
      hosts: ['app.example.com'],
      notBefore: T0 - 10 * DAY,
      notAfter: T0 + 80 * DAY,
    });
    storage.files.set('app.example.com', stored);
    manager.want(['app.example.com']);
    await manager.settled();
    expect(issuer.orders).toEqual([]);
    expect(manager.status('app.example.com')).toMatchObject({ state: 'Ready', reason: 'Stored' });
    const before = manager.served('app.example.com')?.serialNumber;

    await advance(50 * DAY - MINUTE);
    expect(issuer.orders).toEqual([]);
    await advance(MINUTE);
    expect(issuer.orders).toEqual(['app.example.com']);
    expect(manager.status('app.example.com')).toMatchObject({ state: 'Ready', reason: 'Renewed' });
    expect(manager.served('app.example.com')?.serialNumber).not.toBe(before);
    expect(storage.files.get('app.example.com')).not.toEqual(stored);
  });

  it('orders at once when the stored certificate is due or damaged', async () => {
    const { issuer, storage, manager } = setup();
    storage.files.set(
      'due.example.com',
      await makeCertificate({ hosts: ['due.example.com'], notBefore: T0 - 70 * DAY, notAfter: T0 + 20 * DAY }),
    );
    storage.files.set('broken.example.com', { certPem: 'garbage', keyPem: 'garbage' });
    manager.want(['due.example.com', 'broken.example.com']);
    await manager.settled();
    expect(issuer.orders.sort()).toEqual(['broken.example.com', 'due.example.com']);
  });

  it('reports a refused order as Failed with the reason and retries with backoff until it succeeds', async () => {
    const { issuer, manager, advance } = setup();
    issuer.failWith = new AcmeError('AcmeRefused', 'the ACME server refused: rejectedIdentifier');
    manager.want(['app.example.com']);
    await manager.settled();
    expect(manager.status('app.example.com')).toMatchObject({ state: 'Failed', reason: 'AcmeRefused' });
    expect(manager.status('app.example.com')?.message).toMatch(
      /rejectedIdentifier; retrying at 2030-01-01T00:05:00.000Z/,
    );
    expect(manager.contextFor('app.example.com')).toBeUndefined();
    expect(manager.hasValidCertificate('app.example.com')).toBe(false);

    await advance(5 * MINUTE - 1);
    expect(issuer.orders).toHaveLength(1);
    await advance(1);
    expect(issuer.orders).toHaveLength(2);
    // The second failure waits twice as long.
    await advance(10 * MINUTE - 1);
    expect(issuer.orders).toHaveLength(2);
    issuer.failWith = undefined;
    await advance(1);
    expect(issuer.orders).toHaveLength(3);
    expect(manager.status('app.example.com')).toMatchObject({ state: 'Ready', reason: 'Issued' });
  });

  it('keeps serving the current certificate while a renewal fails', async () => {
    const { issuer, manager, advance } = setup();
    manager.want(['app.example.com']);
    await manager.settled();
    const serial = manager.served('app.example.com')?.serialNumber;
    issuer.failWith = new AcmeError('AcmeUnreachable', 'cannot reach the ACME server');
    await advance(60 * DAY);
    expect(issuer.orders).toHaveLength(2);
    expect(manager.status('app.example.com')).toMatchObject({ state: 'Ready', reason: 'RenewalFailed' });
    expect(manager.served('app.example.com')?.serialNumber).toBe(serial);
    expect(manager.contextFor('app.example.com')).toBeDefined();
  });

  it('serves an operator-provided certificate and never orders for its host', async () => {
    const provided = new Map<string, CertificatePem | Error>([
      [
        'own.example.com',
        await makeCertificate({ hosts: ['own.example.com'], notBefore: T0 - DAY, notAfter: T0 + 10 * DAY }),
      ],
      [
        'bad.example.com',
        await makeCertificate({ hosts: ['elsewhere.example.com'], notBefore: T0 - DAY, notAfter: T0 + 10 * DAY }),
      ],
      ['half.example.com', new Error('both half.example.com.crt and half.example.com.key are needed')],
    ]);
    const { issuer, manager, advance } = setup({ provided });
    manager.want(['own.example.com', 'bad.example.com', 'half.example.com']);
    await manager.settled();
    expect(manager.status('own.example.com')).toMatchObject({ state: 'Ready', reason: 'Provided', source: 'provided' });
    expect(manager.status('bad.example.com')).toMatchObject({ state: 'Failed', reason: 'InvalidCertificate' });
    expect(manager.status('half.example.com')).toMatchObject({ state: 'Failed', reason: 'InvalidCertificate' });
    await advance(30 * DAY);
    expect(issuer.orders).toEqual([]);
  });

  it('forgets a host that is no longer wanted: no certificate served, no renewal', async () => {
    const { issuer, manager, clock, advance } = setup();
    manager.want(['app.example.com']);
    await manager.settled();
    manager.want([]);
    expect(manager.contextFor('app.example.com')).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
    await advance(100 * DAY);
    expect(issuer.orders).toEqual(['app.example.com']);
  });

  it('wanting the same hosts again changes nothing', async () => {
    const { issuer, manager, changes } = setup();
    manager.want(['app.example.com']);
    await manager.settled();
    const seen = changes.length;
    manager.want(['app.example.com']);
    await manager.settled();
    expect(issuer.orders).toHaveLength(1);
    expect(changes).toHaveLength(seen);
  });
});
