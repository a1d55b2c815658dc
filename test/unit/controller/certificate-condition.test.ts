import { describe, expect, it } from 'vitest';
import { certificateCondition } from '../../../src/controller/certificate-condition.js';
import type { CertificateStatus, ServiceInfo } from '../../../src/proxy/management.js';

function service(overrides: Partial<ServiceInfo>): ServiceInfo {
  return {
    service: 'web',
    hosts: ['a.test', 'b.test'],
    targets: [],
    startupTimeoutMs: 30_000,
    responseTimeoutMs: 30_000,
    forwardHeaders: false,
    tls: true,
    sslRedirect: true,
    activity: { inFlight: 0, waiting: 0 },
    ...overrides,
  };
}

const ready = (host: string, reason = 'Issued'): CertificateStatus => ({
  host,
  state: 'Ready',
  reason,
  message: 'valid until 2030-01-01T00:00:00.000Z',
});

describe('certificateCondition', () => {
  it.each([
    ['no route yet', undefined, 'Unknown', 'Pending'],
    ['a route deployed without tls', service({ tls: false }), 'Unknown', 'Pending'],
    ['a proxy without an HTTPS listener', service({}), 'False', 'HttpsNotEnabled'],
    ['every host ready', service({ certificates: [ready('a.test'), ready('b.test')] }), 'True', 'Ready'],
    ['a host not looked at yet', service({ certificates: [ready('a.test')] }), 'Unknown', 'Pending'],
    [
      'an order in progress',
      service({
        certificates: [ready('a.test'), { host: 'b.test', state: 'Pending', reason: 'Ordering', message: 'ordering' }],
      }),
      'False',
      'Ordering',
    ],
    [
      'a refused order',
      service({
        certificates: [
          { host: 'a.test', state: 'Pending', reason: 'Ordering', message: 'ordering' },
          { host: 'b.test', state: 'Failed', reason: 'AcmeRefused', message: 'refused: blocked' },
        ],
      }),
      'False',
      'AcmeRefused',
    ],
    [
      'a failed renewal of a valid certificate',
      service({ certificates: [ready('a.test'), ready('b.test', 'RenewalFailed')] }),
      'True',
      'RenewalFailed',
    ],
  ] as const)('%s', (_case, info, status, reason) => {
    expect(certificateCondition(info)).toMatchObject({ type: 'CertificateReady', status, reason });
  });

  it('names each host that is not ready in the message', () => {
    const condition = certificateCondition(
      service({
        certificates: [
          ready('a.test'),
          { host: 'b.test', state: 'Failed', reason: 'AcmeRefused', message: 'the ACME server refused: blocked' },
        ],
      }),
    );
    expect(condition.message).toBe('b.test: the ACME server refused: blocked');
  });
});
