import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AcmeStorage, loadProvidedCertificate } from '../../../../src/proxy/tls/certificate-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'luma-tls-files-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PEM = {
  certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n',
};

describe('AcmeStorage', () => {
  it('keeps the account and certificates of each ACME directory apart, owner-only', async () => {
    const production = new AcmeStorage(dir, 'https://acme-v02.api.letsencrypt.org/directory');
    const staging = new AcmeStorage(dir, 'https://acme-staging-v02.api.letsencrypt.org/directory');
    expect(production.dir).not.toBe(staging.dir);
    expect(path.basename(production.dir)).toMatch(/^acme-v02\.api\.letsencrypt\.org-[0-9a-f]{8}$/);

    await production.saveAccountKey('account key');
    await production.saveAccountUrl('https://acme.example/acct/1');
    await production.saveCertificate('app.example.com', PEM);
    expect(await production.loadAccount()).toEqual({ keyPem: 'account key', url: 'https://acme.example/acct/1' });
    expect(await production.loadCertificate('app.example.com')).toEqual(PEM);
    expect(await staging.loadAccount()).toBeUndefined();
    expect(await staging.loadCertificate('app.example.com')).toBeUndefined();

    for (const file of ['account.key', 'account.json', path.join('certificates', 'app.example.com.json')]) {
      expect((await stat(path.join(production.dir, file))).mode & 0o777, file).toBe(0o600);
    }
    expect((await stat(production.dir)).mode & 0o777).toBe(0o700);
    // Written atomically: no temporary file is left beside them.
    expect((await readdir(path.join(production.dir, 'certificates'))).sort()).toEqual(['app.example.com.json']);
  });

  it('refuses a host that could escape the certificates folder', () => {
    const storage = new AcmeStorage(dir, 'https://acme.example/dir');
    expect(() => storage.certificateFile('../../etc/passwd')).toThrow(/cannot name a certificate file/);
  });
});

describe('loadProvidedCertificate', () => {
  it('reads HOST.crt and HOST.key, and says so when one of the two is missing', async () => {
    await writeFile(path.join(dir, 'own.example.com.crt'), PEM.certPem);
    await writeFile(path.join(dir, 'own.example.com.key'), PEM.keyPem);
    await writeFile(path.join(dir, 'half.example.com.crt'), PEM.certPem);
    expect(await loadProvidedCertificate(dir, 'own.example.com')).toEqual(PEM);
    expect(await loadProvidedCertificate(dir, 'none.example.com')).toBeUndefined();
    await expect(loadProvidedCertificate(dir, 'half.example.com')).rejects.toThrow(
      /both half\.example\.com\.crt and half\.example\.com\.key are needed/,
    );
  });
});
