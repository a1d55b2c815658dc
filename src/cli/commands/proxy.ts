import type { Command } from 'commander';
import { Option } from 'commander';
import { defaultProxyPaths } from '../../proxy/paths.js';
import { ManagementClient } from '../../proxy/management-client.js';
import type { DeployRequest, ServiceInfo } from '../../proxy/management.js';
import { parseListenAddress } from '../../daemon/listen-address.js';
import { CliError } from '../api-client.js';
import { collect, globalFlags, stopOnSignal } from '../common.js';
import { table } from '../format.js';
import {
  addProxyLimitFlags,
  duration,
  positiveInteger,
  proxyLimitsFrom,
  type ProxyLimitFlags,
} from '../proxy-limit-flags.js';

// `luma proxy …` (also the `luma-proxy` binary): the daemon, and a client mode of the
// same binary that steers it over its management socket.

interface SocketFlags {
  socketPath?: string;
  stateDir: string;
}

function socketPathOf(options: SocketFlags): string {
  return options.socketPath ?? defaultProxyPaths(options.stateDir).socketPath;
}

function addSocketFlags(command: Command): Command {
  return (
    command
      .addOption(
        new Option('--socket-path <path>', 'management socket (default: STATE_DIR/proxy/proxy.sock)').env(
          'LUMA_PROXY_SOCKET',
        ),
      )
      // --state-dir is program-wide (the CLI also finds the API token there); handed to each action with its own flags.
      .hook('preAction', (self) => {
        self.setOptionValue('stateDir', globalFlags(self).stateDir);
      })
  );
}

async function withClient<T>(options: SocketFlags, action: (client: ManagementClient) => Promise<T>): Promise<T> {
  const client = new ManagementClient({ socketPath: socketPathOf(options) });
  try {
    return await action(client);
  } catch (error) {
    throw new CliError((error as Error).message);
  } finally {
    client.close();
  }
}

function serviceRows(services: ServiceInfo[]): string {
  return table([
    ['SERVICE', 'HOSTS', 'TARGETS', 'IN-FLIGHT', 'HELD'],
    ...services.map((service) => [
      service.service,
      service.hosts.join(','),
      service.targets.map((target) => target.address).join(',') || '<none: woken on request>',
      String(service.activity.inFlight),
      String(service.activity.waiting),
    ]),
  ]);
}

interface DeployFlags extends SocketFlags {
  host: string[];
  target: string[];
  tls?: boolean;
  /** The Luma Proxy seed's spelling of --tls (docs/compat.md). */
  ssl?: boolean;
  sslRedirect?: boolean;
  forwardHeaders?: boolean;
  h2c?: boolean;
  responseTimeout?: number;
  timeout?: number;
  maxConcurrency?: number;
  maxQueued?: number;
  startupTimeout?: number;
  healthCheckPath: string;
  deployTimeout: number;
  skipHealthCheck?: boolean;
}

export function registerProxyCommands(program: Command): void {
  const proxy = program.command('proxy').description('The edge proxy: run the daemon, or steer a running one');

  addProxyLimitFlags(
    addSocketFlags(proxy.command('run').description('Run the proxy daemon: public listener plus management socket')),
  )
    .addOption(new Option('--listen <addr>', 'public HTTP listener').env('LUMA_LISTEN').default('127.0.0.1:8080'))
    .addOption(
      new Option('--drain-timeout <duration>', 'how long SIGTERM waits for in-flight requests').argParser(
        duration('--drain-timeout'),
      ),
    )
    .addOption(
      new Option('--https-listen <addr>', 'public HTTPS listener; TLS is off without it').env('LUMA_HTTPS_LISTEN'),
    )
    .addOption(
      new Option('--acme-directory <url>', "ACME directory URL (default: Let's Encrypt production)").env(
        'LUMA_ACME_DIRECTORY',
      ),
    )
    .addOption(
      new Option('--certificates-dir <dir>', 'operator-provided certificates: HOST.crt and HOST.key per hostname').env(
        'LUMA_CERTIFICATES_DIR',
      ),
    )
    .option('--no-fast-path', 'parse every request with node:http (the fast path for plain HTTP/1.1 is on by default)')
    .addOption(
      new Option(
        '--metrics-listen <addr>',
        "serve the proxy's Prometheus metrics at http://ADDR/metrics (off when not given)",
      ).env('LUMA_METRICS_LISTEN'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  luma proxy run --listen 127.0.0.1:8080 --metrics-listen 127.0.0.1:9464 --state-dir /var/lib/luma\n  luma proxy run --listen :80 --https-listen :443 --state-dir /var/lib/luma',
    )
    .action(
      async (
        options: SocketFlags &
          ProxyLimitFlags & {
            listen: string;
            drainTimeout?: number;
            fastPath: boolean;
            metricsListen?: string;
            httpsListen?: string;
            acmeDirectory?: string;
            certificatesDir?: string;
          },
      ) => {
        const address = parseListenAddress(options.listen, '--listen');
        const metricsAddress = options.metricsListen
          ? parseListenAddress(options.metricsListen, '--metrics-listen')
          : undefined;
        if ((options.acmeDirectory || options.certificatesDir) && !options.httpsListen)
          throw new CliError('--acme-directory and --certificates-dir need --https-listen');
        const httpsAddress = options.httpsListen
          ? parseListenAddress(options.httpsListen, '--https-listen')
          : undefined;
        const paths = defaultProxyPaths(options.stateDir);
        // Loaded here, not at the top: client commands start without the proxy's code.
        const [{ runProxyDaemon }, { createLogger }] = await Promise.all([
          import('../../proxy/daemon.js'),
          import('../../util/logger.js'),
        ]);
        const running = await runProxyDaemon({
          listenHost: address.host,
          listenPort: address.port,
          socketPath: options.socketPath ?? paths.socketPath,
          stateFile: paths.stateFile,
          logger: createLogger().child({ component: 'proxy' }),
          fastPath: options.fastPath,
          drainTimeoutMs: options.drainTimeout,
          limits: proxyLimitsFrom(options),
          ...(metricsAddress ? { metricsListen: metricsAddress } : {}),
          ...(httpsAddress
            ? {
                https: {
                  host: httpsAddress.host,
                  port: httpsAddress.port,
                  stateDir: options.stateDir,
                  ...(options.acmeDirectory ? { acmeDirectory: options.acmeDirectory } : {}),
                  ...(options.certificatesDir ? { certificatesDir: options.certificatesDir } : {}),
                },
              }
            : {}),
        });
        // Signals are handled before the process says it is up, so a supervisor acting on that line is safe.
        stopOnSignal('the proxy (in-flight requests may finish)', () => running.stop());
        process.stderr.write(
          `Luma proxy is up: apps at http://127.0.0.1:${running.port}, management socket ${options.socketPath ?? paths.socketPath}, ${running.restoredServices} route(s) restored` +
            (running.metricsPort !== undefined
              ? `, metrics at http://${metricsAddress?.host ?? '127.0.0.1'}:${running.metricsPort}/metrics`
              : '') +
            (running.httpsPort !== undefined ? `; HTTPS at https://127.0.0.1:${running.httpsPort}` : '') +
            '\n',
        );
      },
    );

  addSocketFlags(
    proxy
      .command('deploy')
      .description('Route hosts to targets; traffic moves only once the new targets pass their health check'),
  )
    .argument('<service>', 'service name')
    .option('--host <host>', 'a Host header to route (repeatable, at least one)', collect, [])
    .option('--target <addr>', 'HOST:PORT of a target (repeatable; none = held until woken)', collect, [])
    .option('--tls', 'serve these hosts over HTTPS')
    // Scripts written for the earlier Luma Proxy say --ssl; they run unchanged.
    .addOption(new Option('--ssl', 'the same as --tls').hideHelp())
    .option('--ssl-redirect', 'redirect HTTP to HTTPS')
    .option('--forward-headers', "trust the client's X-Forwarded-* headers (a proxy in front)")
    .option('--h2c', 'the targets speak HTTP/2 cleartext (prior knowledge), as gRPC servers do')
    .addOption(
      new Option('--response-timeout <duration>', 'wait this long for response headers before a 504').argParser(
        duration('--response-timeout'),
      ),
    )
    .addOption(
      new Option('--timeout <duration>', 'the longest a whole request may take (hold, queue, answer)').argParser(
        duration('--timeout'),
      ),
    )
    .addOption(
      new Option('--max-concurrency <n>', 'at most this many requests in flight per target; more queue').argParser(
        positiveInteger('--max-concurrency'),
      ),
    )
    .addOption(
      new Option('--max-queued <n>', 'requests that may wait past --max-concurrency before 429').argParser(
        positiveInteger('--max-queued'),
      ),
    )
    .addOption(
      new Option('--startup-timeout <duration>', 'how long held requests wait for a target').argParser(
        duration('--startup-timeout'),
      ),
    )
    .option('--health-check-path <path>', 'GET path a new target must answer (below 500)', '/')
    .addOption(
      new Option('--deploy-timeout <duration>', 'how long a new target may take to pass')
        .argParser(duration('--deploy-timeout'))
        .default(30_000, '30s'),
    )
    .option('--skip-health-check', 'move traffic without checking the new targets')
    .addHelpText(
      'after',
      '\nExamples:\n  luma proxy deploy web --host web.localhost --target 127.0.0.1:3000\n  luma-proxy deploy api --host api.example.com --target 127.0.0.1:4000 --response-timeout 60s',
    )
    .action(async (service: string, options: DeployFlags) => {
      if (options.host.length === 0) throw new CliError('deploy needs at least one --host');
      if (!options.healthCheckPath.startsWith('/'))
        throw new CliError('--health-check-path: expected a path starting with /');
      const request: DeployRequest = {
        service,
        hosts: options.host,
        targets: options.target,
        ...(options.tls || options.ssl ? { tls: true } : {}),
        ...(options.sslRedirect ? { sslRedirect: true } : {}),
        ...(options.forwardHeaders ? { forwardHeaders: true } : {}),
        ...(options.h2c ? { h2c: true } : {}),
        responseTimeoutMs: options.responseTimeout,
        requestTimeoutMs: options.timeout,
        maxConcurrency: options.maxConcurrency,
        maxQueued: options.maxQueued,
        startupTimeoutMs: options.startupTimeout,
        ...(options.skipHealthCheck
          ? {}
          : { healthCheck: { path: options.healthCheckPath, timeoutMs: options.deployTimeout } }),
      };
      await withClient(options, (client) => client.deploy(request));
      process.stdout.write(
        `deployed ${service}: ${options.host.join(', ')} → ${options.target.join(', ') || '(no target)'}\n`,
      );
    });

  addSocketFlags(proxy.command('remove').description('Stop routing a service (in-flight requests finish)'))
    .argument('<service>')
    .addHelpText('after', '\nExample:\n  luma proxy remove web')
    .action(async (service: string, options: SocketFlags) => {
      await withClient(options, (client) => client.remove(service));
      process.stdout.write(`removed ${service}\n`);
    });

  addSocketFlags(proxy.command('get-service').description('Show one service as JSON: hosts, targets, activity'))
    .argument('<service>')
    .addHelpText('after', '\nExample:\n  luma proxy get-service web')
    .action(async (service: string, options: SocketFlags) => {
      const info = await withClient(options, (client) => client.getService(service));
      if (!info) throw new CliError(`no service named "${service}"`);
      process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    });

  addSocketFlags(proxy.command('list-services').description('List routed services'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json']))
    .addHelpText('after', '\nExamples:\n  luma proxy list-services\n  luma proxy list-services -o json')
    .action(async (options: SocketFlags & { output?: 'json' }) => {
      const services = await withClient(options, (client) => client.listServices());
      process.stdout.write(
        options.output === 'json' ? JSON.stringify(services, null, 2) + '\n' : serviceRows(services),
      );
    });

  addSocketFlags(proxy.command('set-global-option').description('Set a proxy-wide option'))
    .requiredOption('--lets-encrypt-email <email>', 'contact address for ACME accounts')
    .addHelpText('after', '\nExample:\n  luma proxy set-global-option --lets-encrypt-email ops@example.com')
    .action(async (options: SocketFlags & { letsEncryptEmail: string }) => {
      if (!/^[^@\s]+@[^@\s]+$/.test(options.letsEncryptEmail))
        throw new CliError(`--lets-encrypt-email: expected an email address, got "${options.letsEncryptEmail}"`);
      await withClient(options, (client) => client.setGlobalOption('lets-encrypt-email', options.letsEncryptEmail));
      process.stdout.write('set lets-encrypt-email\n');
    });
}
