import type { ConditionStatus } from '../model/types.js';
import type { ServiceInfo } from '../proxy/management.js';

// A Project's CertificateReady condition, read from what the proxy reports for its service
// (ServiceInfo.certificates, one entry per host). Pure: the reconciler writes it.

export interface CertificateCondition {
  type: 'CertificateReady';
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function certificateCondition(service: ServiceInfo | undefined): CertificateCondition {
  const condition = (status: ConditionStatus, reason: string, message: string): CertificateCondition => ({
    type: 'CertificateReady',
    status,
    reason,
    message,
  });
  if (!service?.tls) return condition('Unknown', 'Pending', 'the route is not deployed with TLS yet');
  const certificates = service.certificates;
  if (!certificates)
    return condition('False', 'HttpsNotEnabled', 'the proxy has no HTTPS listener: start it with --https-listen');
  const notReady = certificates.filter((certificate) => certificate.state !== 'Ready');
  const failed = notReady.find((certificate) => certificate.state === 'Failed');
  const first = failed ?? notReady[0];
  if (first)
    return condition(
      'False',
      first.reason,
      notReady.map((certificate) => `${certificate.host}: ${certificate.message}`).join('; '),
    );
  if (certificates.length < service.hosts.length)
    return condition('Unknown', 'Pending', 'the proxy has not looked at every host yet');
  const renewalFailed = certificates.find((certificate) => certificate.reason === 'RenewalFailed');
  return condition(
    'True',
    renewalFailed ? 'RenewalFailed' : 'Ready',
    certificates.map((certificate) => `${certificate.host}: ${certificate.message}`).join('; '),
  );
}
