import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { systemClock, type Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type {
  DeployRequest,
  GlobalOption,
  HostMove,
  OutcomeCounts,
  ProxyHooks,
  ProxyManagement,
  ServiceInfo,
} from '../management.js';
import type { InterceptedRequest, ProxyServer } from '../proxy-server.js';
import { respond, type ProxyAnswer } from '../responses.js';
import { normalizeHost } from '../route-table.js';
import { AcmeIssuer, LETS_ENCRYPT_DIRECTORY, type CertificateIssuer } from './acme-issuer.js';
import { AcmeStorage, loadProvidedCertificate } from './certificate-files.js';
import { CertificateManager } from './certificate-manager.js';
import { Http01Challenges, isChallengePath } from './http01-challenges.js';
import { HttpsListener } from './https-listener.js';
import type { RenewalPolicy } from './renewal-policy.js';

// The proxy with HTTPS: the same management interface, plus certificates for the hosts
// of services deployed with `tls`. It sits in front of ProxyServer rather than inside it:
// every deploy and remove passes through here and updates which hosts want certificates;
// plain HTTP is answered first here for ACME challenges and HTTPS redirects; the HTTPS
// listener hands its requests to the proxy's ordinary handler. Certificate state goes back
// to the controller on ServiceInfo.certificates and the certificateChanged hook.

export interface TlsOptions {
  /** STATE_DIR/proxy/tls: the ACME account and certificates. */
  tlsDir: string;
  /** ACME directory URL; Let's Encrypt production by default. */
  acmeDirectory?: string;
  /** Operator-provided certificates: HOST.crt and HOST.key files. */
  certificatesDir?: string;
  logger: Logger;
  clock?: Clock;
  policy?: RenewalPolicy;
  /** Stands in for the ACME server (tests). */
  issuer?: CertificateIssuer;
}

interface TlsHost {
  service: string;
  sslRedirect: boolean;
}

export function defaultTlsDir(stateDir: string): string {
  return path.join(stateDir, 'proxy', 'tls');
}

export class TlsProxy implements ProxyManagement {
  readonly challenges = new Http01Challenges();
  readonly certificates: CertificateManager;
  readonly directoryUrl: string;
  private readonly listener: HttpsListener;
  private tlsHosts = new Map<string, TlsHost>();
  private hooks: ProxyHooks | undefined;
  private httpsPort: number | undefined;

  constructor(
    private readonly proxy: ProxyServer,
    options: TlsOptions,
  ) {
    const logger = options.logger.child({ component: 'tls' });
    this.directoryUrl = options.acmeDirectory ?? LETS_ENCRYPT_DIRECTORY;
    const storage = new AcmeStorage(options.tlsDir, this.directoryUrl);
    const certificatesDir = options.certificatesDir;
    this.certificates = new CertificateManager({
      issuer:
        options.issuer ??
        new AcmeIssuer({
          storage,
          challenges: this.challenges,
          email: () => proxy.globalOption('lets-encrypt-email'),
          logger,
        }),
      storage,
      ...(certificatesDir ? { provided: (host: string) => loadProvidedCertificate(certificatesDir, host) } : {}),
      clock: options.clock ?? systemClock,
      logger,
      ...(options.policy ? { policy: options.policy } : {}),
      onChange: (host) => {
        const service = this.tlsHosts.get(host)?.service;
        if (service) this.hooks?.certificateChanged?.(service);
      },
    });
    this.listener = new HttpsListener({
      contextFor: (serverName) => this.certificates.contextFor(serverName),
      // A request that fails unexpectedly ends its own connection, never the process.
      handle: (req, res) =>
        void proxy.handle(req, res).catch((error: unknown) => {
          logger.error({ err: (error as Error).message, url: req.url }, 'HTTPS request failed');
          res.destroy();
        }),
      handleStream: (stream, headers) =>
        void proxy.handleHttp2Stream(stream, headers).catch((error: unknown) => {
          logger.error({ err: (error as Error).message, url: headers[':path'] }, 'HTTP/2 request failed');
          stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        }),
      handleUpgrade: (req, socket, head) =>
        void proxy.handleUpgrade(req, socket, head).catch((error: unknown) => {
          logger.error({ err: (error as Error).message, url: req.url }, 'HTTPS upgrade failed');
          socket.destroy();
        }),
      logger,
      limits: proxy.limits,
      connectionCap: proxy.connectionCap,
      fastPath: (fallback) => proxy.fastPathListener((socket) => fallback(socket as TLSSocket)),
    });
    proxy.setIntercept((request) => this.interceptPlainHttp(request));
  }

  setHooks(hooks: ProxyHooks | undefined): void {
    this.hooks = hooks;
    this.proxy.setHooks(hooks);
  }

  /** Restores the proxy's saved routes and the certificates of their hosts. */
  async restore(): Promise<number> {
    const restored = await this.proxy.restore();
    await this.sync();
    return restored;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    const address = await this.listener.listen(host, port);
    this.httpsPort = address.port;
    return address;
  }

  /** Closes the HTTPS listener and the proxy together: in-flight requests of both finish first. */
  async close(): Promise<void> {
    this.certificates.close();
    await this.listener.close(this.proxy.close());
  }

  // ---------- management interface ----------

  async deploy(request: DeployRequest): Promise<void> {
    await this.proxy.deploy(request);
    await this.sync();
  }

  async deployMovingHosts(request: DeployRequest, moves: readonly HostMove[]): Promise<void> {
    await this.proxy.deployMovingHosts(request, moves);
    await this.sync();
  }

  async remove(service: string): Promise<void> {
    try {
      await this.proxy.remove(service);
    } finally {
      await this.sync();
    }
  }

  async getService(service: string): Promise<ServiceInfo | undefined> {
    const info = await this.proxy.getService(service);
    return info && this.withCertificates(info);
  }

  async listServices(): Promise<ServiceInfo[]> {
    return (await this.proxy.listServices()).map((info) => this.withCertificates(info));
  }

  revisionOutcomes(): Promise<Record<string, OutcomeCounts>> {
    return this.proxy.revisionOutcomes();
  }

  preconnect(target: string): Promise<void> {
    return this.proxy.preconnect(target);
  }

  setGlobalOption(option: GlobalOption, value: string): Promise<void> {
    return this.proxy.setGlobalOption(option, value);
  }

  // ---------- plain HTTP ----------

  /**
   * Answers plain-HTTP requests that are TLS business: an ACME challenge of an order in
   * progress, or a redirect to HTTPS for a service that asks for one, once its host has a
   * valid certificate (before that, plain HTTP keeps serving). The challenge path is
   * never redirected.
   */
  interceptPlainHttp(request: InterceptedRequest): ProxyAnswer | undefined {
    if (request.encrypted) return undefined;
    if (isChallengePath(request.url)) return this.challenges.answer(request.url);
    if (this.httpsPort === undefined) return undefined;
    const host = normalizeHost(request.hostHeader);
    if (!host || !this.tlsHosts.get(host)?.sslRedirect || !this.certificates.hasValidCertificate(host))
      return undefined;
    const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
    return respond.httpsRequired(`https://${host}${port}${request.url}`);
  }

  private async sync(): Promise<void> {
    const hosts = new Map<string, TlsHost>();
    for (const info of await this.proxy.listServices()) {
      if (!info.tls) continue;
      for (const host of info.hosts) hosts.set(host, { service: info.service, sslRedirect: info.sslRedirect });
    }
    this.tlsHosts = hosts;
    this.certificates.want(hosts.keys());
  }

  private withCertificates(info: ServiceInfo): ServiceInfo {
    if (!info.tls) return info;
    const certificates = info.hosts.flatMap((host) => this.certificates.status(host) ?? []);
    return { ...info, certificates };
  }
}
