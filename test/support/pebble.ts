import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

// Debian's Pebble (a small ACME server for tests) and its companion pebble-challtestsrv as
// Pebble's DNS, answering 127.0.0.1 for every name, so Pebble validates HTTP-01 against
// the port the Luma under test listens on. Nothing leaves the machine.

const run = promisify(execFile);

/** A port that was free a moment ago (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PebbleOptions {
  /** Where its config and its HTTPS certificate are written. */
  dir: string;
  /** The port Pebble sends HTTP-01 validations to (Luma's plain HTTP listener). */
  httpPort: number;
  /** Names Pebble refuses to issue for (its domainBlocklist). */
  blocklist?: string[];
  /** Lifetime of the certificates it issues, in seconds (Pebble's default is five years). */
  certificateValiditySeconds?: number;
}

export interface Pebble {
  directoryUrl: string;
  /** The CA file that makes Pebble's own HTTPS listener trusted (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** Pebble's root for the certificates it issues (regenerated at every start). */
  root(): Promise<string>;
  /** Certificates issued so far, counted from Pebble's log. */
  issuedCount(): number;
  output(): string;
  stop(): Promise<void>;
}

function spawnLogged(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitForOutput(
  process: { child: ChildProcess; output: () => string },
  pattern: RegExp,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!pattern.test(process.output())) {
    if (process.child.exitCode !== null)
      throw new Error(`${what} exited with ${process.child.exitCode}:\n${process.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within 15 s:\n${process.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

function fetchText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`)),
        );
      })
      .on('error', reject);
  });
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const [acmePort, managementPort, dnsPort, dnsManagementPort, tlsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const caFile = path.join(options.dir, 'pebble-https.pem');
  const keyFile = path.join(options.dir, 'pebble-https.key');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    keyFile,
    '-out',
    caFile,
  ]);
  const configFile = path.join(options.dir, 'pebble-config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: caFile,
        privateKey: keyFile,
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        domainBlocklist: options.blocklist ?? [],
        ...(options.certificateValiditySeconds
          ? { certificateValidityPeriod: options.certificateValiditySeconds }
          : {}),
      },
    }),
  );
  const dns = spawnLogged('pebble-challtestsrv', [
    '-dns01',
    `127.0.0.1:${dnsPort}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `127.0.0.1:${dnsManagementPort}`,
    '-defaultIPv4',
    '127.0.0.1',
    '-defaultIPv6',
    '',
  ]);
  // No random sleeps before validations, no nonces refused at random: a fast, deterministic CA.
  const pebble = spawnLogged('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict=false'], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
  });
  try {
    await waitForOutput(dns, /Starting challenge servers|Creating TCP and UDP DNS-01/, 'pebble-challtestsrv');
    await waitForOutput(pebble, /ACME directory available at/, 'pebble');
  } catch (error) {
    await Promise.all([stopChild(pebble.child), stopChild(dns.child)]);
    throw error;
  }
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    root: async () =>
      fetchText(
        `https://127.0.0.1:${managementPort}/roots/0`,
        await import('node:fs/promises').then((fs) => fs.readFile(caFile, 'utf8')),
      ),
    issuedCount: () => (pebble.output().match(/Issued certificate serial/g) ?? []).length,
    output: () => `${pebble.output()}\n--- challtestsrv ---\n${dns.output()}`,
    stop: async () => {
      await Promise.all([stopChild(pebble.child), stopChild(dns.child)]);
    },
  };
}
