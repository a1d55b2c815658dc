import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, ProjectObject } from '../../src/model/types.js';
import type { ServiceInfo } from '../../src/proxy/management.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  type LumaProcess,
} from '../support/luma.js';
import { freePort, startPebble, type Pebble } from '../support/pebble.js';
import { proxyCli, startBackend, startProxy, type Backend, type ProxyProcess } from '../support/proxy.js';
import { http2Get, httpsGet, tlsHandshake } from '../support/tls.js';

// Automatic HTTPS against a real ACME server: Debian's Pebble, with pebble-challtestsrv as
// its DNS answering 127.0.0.1, validating HTTP-01 on the port Luma's proxy listens on.

const HELLO = 'hello from the test app\n';

/** True when `leafPem`'s chain (as served) ends in `rootPem`. */
function chainsTo(chainPem: string[], rootPem: string): boolean {
  const root = new X509Certificate(rootPem);
  const certificates = chainPem.map((pem) => new X509Certificate(pem));
  const last = certificates.at(-1);
  return last !== undefined && last.checkIssued(root) && last.verify(root.publicKey);
}

describe('automatic HTTPS with `luma up` (Pebble)', () => {
  const instance = testInstance('tls');
  let dir: string;
  let stateDir: string;
  let manifests: string;
  let pebble: Pebble;
  let root: string;
  let proxyPort: number;
  let httpsPort: number;
  let luma: LumaProcess | undefined;

  async function start(): Promise<LumaProcess> {
    return startLuma({
      stateDir,
      manifests,
      instance,
      proxyPort,
      args: [
        '--https-listen',
        `127.0.0.1:${httpsPort}`,
        '--acme-directory',
        pebble.directoryUrl,
        '--lets-encrypt-email',
        'ops@example.com',
      ],
      // Pebble's own HTTPS listener has a certificate made for this test.
      env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
    });
  }

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('tls');
    stateDir = path.join(dir, 'state');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    // Pebble validates HTTP-01 on a fixed port: Luma's plain listener gets it for every start.
    [proxyPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    pebble = await startPebble({ dir, httpPort: proxyPort, blocklist: ['refused.test'] });
    root = await pebble.root();
    luma = await start();
  });

  afterAll(async () => {
    await luma?.stop();
    await pebble?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function apply(name: string, hostnames: string[]): Promise<void> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, projectManifest(name, { image: TEST_IMAGE, hostnames, tls: true }));
    const result = await runCli(['apply', '-f', file], { api: luma!.api });
    expect(result.code, result.stderr).toBe(0);
  }

  async function certificateCondition(name: string): Promise<Condition | undefined> {
    const project = (await (await apiFetch(luma!.api, `/api/v1alpha1/projects/${name}`)).json()) as ProjectObject;
    return project.status?.conditions?.find((condition) => condition.type === 'CertificateReady');
  }

  async function waitForCertificate(name: string): Promise<Condition> {
    return eventually(
      async () => {
        const condition = await certificateCondition(name);
        return condition?.status === 'True' ? condition : undefined;
      },
      30_000,
      `CertificateReady=True on ${name}`,
    );
  }

  it('issues a certificate for a tls project: HTTPS answers with a chain to Pebble’s root, over HTTP/2 too; HTTP redirects except the ACME challenge path', async () => {
    await apply('secure', ['secure.test']);
    await waitForCertificate('secure');

    const answer = await httpsGet(httpsPort, 'secure.test', root);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(HELLO);
    // The app sees that it was reached over HTTPS.
    const env = await httpsGet(httpsPort, 'secure.test', root, '/cgi-bin/env');
    expect(env.body).toMatch(/^HTTP_X_FORWARDED_PROTO=https$/m);

    const h2 = await http2Get(httpsPort, 'secure.test', root);
    expect(h2.protocol).toBe('ALPN h2');
    expect(h2.status).toBe(200);
    expect(h2.body).toBe(HELLO);

    const redirected = await request(proxyPort, 'secure.test', '/some/page?x=1');
    expect(redirected.status).toBe(301);
    expect(redirected.headers.location).toBe(`https://secure.test:${httpsPort}/some/page?x=1`);
    // An unknown challenge token is the app's business, never redirected.
    const challenge = await request(proxyPort, 'secure.test', '/.well-known/acme-challenge/unknown-token');
    expect(challenge.status).toBe(404);

    // The served chain ends in Pebble's root (node verified it against `root` only, too).
    const chain = await servedChain(httpsPort, 'secure.test', root);
    expect(chainsTo(chain, root)).toBe(true);

    // Secrets are the owner's only.
    const acmeDir = path.join(stateDir, 'proxy', 'tls', 'acme');
    const [directory] = await readdir(acmeDir);
    expect(directory).toMatch(/^127\.0\.0\.1_\d+-[0-9a-f]{8}$/);
    for (const file of ['account.key', path.join('certificates', 'secure.test.json')]) {
      expect((await stat(path.join(acmeDir, directory!, file))).mode & 0o777, file).toBe(0o600);
    }
  });

  it('a TLS handshake for an unknown hostname is refused and starts no order', async () => {
    const issuedBefore = pebble.issuedCount();
    const stranger = await tlsHandshake(httpsPort, 'stranger.test', root);
    expect(stranger.serial).toBeUndefined();
    expect(stranger.error).toBeDefined();
    // Orders run one at a time, in turn: once a host declared after the handshake has its
    // certificate, an order for the stranger would have been issued before it.
    await apply('second', ['second.test']);
    await waitForCertificate('second');
    expect(pebble.issuedCount()).toBe(issuedBefore + 1);
    const files = await readdir(
      path.join(
        stateDir,
        'proxy',
        'tls',
        'acme',
        (await readdir(path.join(stateDir, 'proxy', 'tls', 'acme')))[0]!,
        'certificates',
      ),
    );
    expect(files.sort()).toEqual(['second.test.json', 'secure.test.json']);
  });

  it('an ACME server that refuses gives CertificateReady=False with its reason, and plain HTTP keeps serving', async () => {
    await apply('refused', ['refused.test']);
    const condition = await eventually(
      async () => {
        const current = await certificateCondition('refused');
        return current?.status === 'False' && current.reason !== 'Ordering' && current.reason !== 'Loading'
          ? current
          : undefined;
      },
      30_000,
      'CertificateReady=False on refused',
    );
    expect(condition.reason).toBe('AcmeRefused');
    expect(condition.message).toMatch(/forbidden by policy/);
    const plain = await request(proxyPort, 'refused.test');
    expect(plain.status).toBe(200);
    expect(plain.body).toBe(HELLO);
    expect(luma!.child.exitCode).toBeNull();
  });

  it('a restart reuses the stored certificate without a new order', async () => {
    const before = await httpsGet(httpsPort, 'secure.test', root);
    const issuedBefore = pebble.issuedCount();
    await luma!.stop();
    luma = await start();
    const after = await eventually(
      async () => {
        const answer = await httpsGet(httpsPort, 'secure.test', root);
        return answer.status === 200 ? answer : undefined;
      },
      30_000,
      'secure.test over HTTPS after the restart',
    );
    expect(after.serial).toBe(before.serial);
    const condition = await waitForCertificate('secure');
    expect(condition.message).toMatch(/secure\.test/);
    expect(pebble.issuedCount()).toBe(issuedBefore);
  });
});

describe('renewal with `luma proxy run` (Pebble issuing 20-second certificates)', () => {
  let dir: string;
  let pebble: Pebble;
  let root: string;
  let proxy: ProxyProcess | undefined;
  let backend: Backend | undefined;
  let httpsPort: number;

  beforeAll(async () => {
    dir = await tempDir('tls-renew');
    const proxyPort = await freePort();
    httpsPort = await freePort();
    // Renewed once a third of the lifetime is left: after about 13 s, with 7 s of margin for
    // the order on a busy machine.
    pebble = await startPebble({ dir, httpPort: proxyPort, certificateValiditySeconds: 20 });
    root = await pebble.root();
    backend = await startBackend((req, res) => res.end(`proto=${String(req.headers['x-forwarded-proto'])}\n`));
    proxy = await startProxy({
      stateDir: path.join(dir, 'state'),
      port: proxyPort,
      args: ['--https-listen', `127.0.0.1:${httpsPort}`, '--acme-directory', pebble.directoryUrl],
      env: { NODE_EXTRA_CA_CERTS: pebble.caFile },
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await backend?.close();
    await pebble?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function certificateOf(service: string): Promise<NonNullable<ServiceInfo['certificates']>[number] | undefined> {
    const result = await proxyCli(['get-service', service, '--socket-path', proxy!.socketPath]);
    return result.code === 0 ? (JSON.parse(result.stdout) as ServiceInfo).certificates?.[0] : undefined;
  }

  it('renews a certificate near expiry and serves the new one without a restart', async () => {
    const deployed = await proxyCli([
      'deploy',
      'web',
      '--host',
      'renew.test',
      '--target',
      backend!.address,
      '--tls',
      '--ssl-redirect',
      '--socket-path',
      proxy!.socketPath,
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    await eventually(async () => (await certificateOf('web'))?.state === 'Ready', 30_000, 'the first certificate');
    const first = await eventually(
      async () => httpsGet(httpsPort, 'renew.test', root),
      10_000,
      'the first certificate served',
    );
    expect(first.body).toBe('proto=https\n');
    // A third of the lifetime before expiry, a new one is ordered and swapped in.
    const renewed = await eventually(
      async () => {
        const answer = await httpsGet(httpsPort, 'renew.test', root);
        return answer.serial !== first.serial ? answer : undefined;
      },
      30_000,
      'a renewed certificate served',
    );
    expect(renewed.status).toBe(200);
    expect((await certificateOf('web'))?.reason).toBe('Renewed');
    expect(pebble.issuedCount()).toBeGreaterThanOrEqual(2);
    expect(proxy!.child.exitCode).toBeNull();
  });
});

/** The certificates the server sent, leaf first, as PEM. */
async function servedChain(port: number, host: string, ca: string): Promise<string[]> {
  const tls = await import('node:tls');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca }, () => {
      const chain: string[] = [];
      let current = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (current?.raw && !seen.has(current.fingerprint256)) {
        seen.add(current.fingerprint256);
        chain.push(`-----BEGIN CERTIFICATE-----\n${current.raw.toString('base64')}\n-----END CERTIFICATE-----\n`);
        current = current.issuerCertificate;
      }
      socket.destroy();
      resolve(chain);
    });
    socket.once('error', reject);
  });
}
