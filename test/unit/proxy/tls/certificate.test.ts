import { describe, expect, it } from 'vitest';
import { CertificateError, loadCertificate } from '../../../../src/proxy/tls/certificate.js';
import { makeCertificate } from '../../../support/certificates.js';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

describe('loadCertificate', () => {
  it('reads the dates and serial of a certificate that covers the host', async () => {
    const pem = await makeCertificate({ hosts: ['app.example.com'], notBefore: T0, notAfter: T0 + 90 * DAY });
    const served = loadCertificate('app.example.com', pem);
    expect(served.notBefore).toBe(T0);
    expect(served.notAfter).toBe(T0 + 90 * DAY);
    expect(served.serialNumber).toMatch(/^[0-9A-F]+$/);
    expect(served.context).toBeDefined();
  });

  it('refuses a certificate for another host, a key of another certificate, and garbage', async () => {
    const pem = await makeCertificate({ hosts: ['app.example.com'], notBefore: T0, notAfter: T0 + DAY });
    const other = await makeCertificate({ hosts: ['other.example.com'], notBefore: T0, notAfter: T0 + DAY });
    expect(() => loadCertificate('other.example.com', pem)).toThrow(/does not cover other\.example\.com/);
    expect(() => loadCertificate('app.example.com', { certPem: pem.certPem, keyPem: other.keyPem })).toThrow(
      /does not belong/,
    );
    expect(() => loadCertificate('app.example.com', { certPem: 'nope', keyPem: pem.keyPem })).toThrow(CertificateError);
    expect(() => loadCertificate('app.example.com', { certPem: pem.certPem, keyPem: 'nope' })).toThrow(/private key/);
  });
});
