import type { Command } from 'commander';
import { Option } from 'commander';
import { defaultProxyPaths } from '../../proxy/paths.js';
import { CliError } from '../api-client.js';
import { favourSmallHeap } from '../../daemon/heap-profile.js';
import { isPostgresUrl } from '../../daemon/store-url.js';
import { globalFlags, stopOnSignal } from '../common.js';
import { RUNTIME_NAMES, type RuntimeName } from '../../runtime/runtime-names.js';
import type { RuntimeChoice } from '../../runtime/select-runtime.js';
import { addProxyLimitFlags, proxyLimitsFrom, type ProxyLimitFlags } from '../proxy-limit-flags.js';

// The long-running processes: `luma up` (everything in one) and `luma controller`
// (the control plane alone, steering a separately run proxy).

interface ControlPlaneFlags {
  manifests: string;
  listen: string;
  apiListen: string;
  httpsListen?: string;
  acmeDirectory?: string;
  certificatesDir?: string;
  config?: string;
  forcePrune?: boolean;
  secretKeyFile?: string;
  runtime?: RuntimeName;
  registry?: string;
  store?: string;
}

function addControlPlaneFlags(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--manifests <dir>',
        'watched directory: every *.yaml/*.yml below it is applied when it changes, and what it no longer declares is pruned',
      )
        .env('LUMA_MANIFESTS')
        .default('./manifests'),
    )
    .addOption(
      new Option(
        '--force-prune',
        'let the watched directory prune without its guards (empty-directory grace period, sync.maxPruneShare)',
      ).env('LUMA_FORCE_PRUNE'),
    )
    .addOption(
      new Option('--listen <addr>', 'public HTTP listener (the proxy)').env('LUMA_LISTEN').default('127.0.0.1:8080'),
    )
    .addOption(new Option('--api-listen <addr>', 'API listener').env('LUMA_API_LISTEN').default('127.0.0.1:7070'))
    .addOption(
      new Option('--https-listen <addr>', 'public HTTPS listener (the proxy); TLS is off without it').env(
        'LUMA_HTTPS_LISTEN',
      ),
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
    .addOption(new Option('--config <file>', 'operator settings (YAML)').env('LUMA_CONFIG'))
    .addOption(
      new Option(
        '--secret-key-file <file>',
        'the key that encrypts Secrets at rest: 32 bytes as base64, mode 0600 (default: STATE_DIR/secret-key, made at first start)',
      ).env('LUMA_SECRET_KEY_FILE'),
    )
    .addOption(
      new Option(
        '--runtime <name>',
        'what runs the apps: docker (containers on this engine) or swarm (services across the swarm this engine manages)',
      )
        .env('LUMA_RUNTIME')
        .choices(RUNTIME_NAMES),
    )
    .addOption(
      new Option(
        '--registry <host:port>',
        'with --runtime swarm: the registry Luma pushes images to and every node pulls from',
      ).env('LUMA_REGISTRY'),
    )
    .addOption(
      new Option(
        '--store <url>',
        'where objects and the usage ledger live: postgres://USER@HOST/DB, shared by several controllers (default: files in the state directory)',
      ).env('LUMA_STORE'),
    );
}

/** `--runtime` and `--registry` as the control plane takes them. */
function engineChoice(options: ControlPlaneFlags): RuntimeChoice {
  return {
    ...(options.runtime ? { runtime: options.runtime } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  };
}

/** The store flag's value, checked: a PostgreSQL URL or nothing. */
function storeFrom(options: ControlPlaneFlags): { store?: string } {
  if (options.store === undefined) return {};
  if (!isPostgresUrl(options.store)) {
    throw new CliError(`--store: expected a postgres:// or postgresql:// URL, got "${options.store}"`);
  }
  return { store: options.store };
}

/** In the split deployment TLS belongs to the proxy process, which holds the listener and the certificates. */
function refuseTlsOnController(options: ControlPlaneFlags): void {
  if (options.httpsListen || options.acmeDirectory || options.certificatesDir) {
    throw new CliError(
      '--https-listen, --acme-directory and --certificates-dir belong to the proxy: pass them to `luma proxy run`',
    );
  }
}

export function registerDaemonCommands(program: Command): void {
  addProxyLimitFlags(
    addControlPlaneFlags(
      program
        .command('up')
        .description('Run Luma in one process (store, controller, proxy, API) on the embedded default'),
    ),
  )
    .addOption(
      new Option(
        '--lets-encrypt-email <email>',
        'contact address of the ACME account (what `luma proxy set-global-option` sets on a separate proxy)',
      ).env('LUMA_LETS_ENCRYPT_EMAIL'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  luma up --manifests ./manifests --listen 127.0.0.1:8080\n  luma up --runtime swarm --registry 10.0.0.1:5000   # on a swarm manager',
    )
    .action(async (options: ControlPlaneFlags & ProxyLimitFlags & { letsEncryptEmail?: string }, command: Command) => {
      if ((options.acmeDirectory || options.certificatesDir || options.letsEncryptEmail) && !options.httpsListen) {
        throw new CliError('--acme-directory, --certificates-dir and --lets-encrypt-email need --https-listen');
      }
      if (options.letsEncryptEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(options.letsEncryptEmail)) {
        throw new CliError(`--lets-encrypt-email: expected an email address, got "${options.letsEncryptEmail}"`);
      }
      const { stateDir } = globalFlags(command);
      favourSmallHeap();
      const { startLuma } = await import('../../daemon/up.js');
      const luma = await startLuma({
        manifests: options.manifests,
        stateDir,
        ...storeFrom(options),
        listen: options.listen,
        apiListen: options.apiListen,
        ...(options.config ? { config: options.config } : {}),
        ...(options.httpsListen ? { httpsListen: options.httpsListen } : {}),
        ...(options.acmeDirectory ? { acmeDirectory: options.acmeDirectory } : {}),
        ...(options.certificatesDir ? { certificatesDir: options.certificatesDir } : {}),
        ...(options.letsEncryptEmail ? { letsEncryptEmail: options.letsEncryptEmail } : {}),
        ...(options.forcePrune ? { forcePrune: true } : {}),
        ...(options.secretKeyFile ? { secretKeyFile: options.secretKeyFile } : {}),
        engine: engineChoice(options),
        proxyLimits: proxyLimitsFrom(options),
      });
      stopOnSignal('Luma (containers keep running and are adopted at the next start)', () => luma.stop());
      const https = luma.httpsPort !== undefined ? `, HTTPS at https://127.0.0.1:${luma.httpsPort}` : '';
      process.stderr.write(
        `Luma is up: apps at http://127.0.0.1:${luma.proxyPort}, API at http://127.0.0.1:${luma.apiPort}${https}, state in ${stateDir}\n`,
      );
    });

  addControlPlaneFlags(
    program
      .command('controller')
      .description('Run the controller and API alone, steering a proxy started with `luma proxy run`'),
  )
    .addOption(
      new Option('--proxy-socket <path>', "the proxy's management socket (default: STATE_DIR/proxy/proxy.sock)").env(
        'LUMA_PROXY_SOCKET',
      ),
    )
    .addHelpText(
      'after',
      '\nExample:\n  luma proxy run --state-dir /var/lib/luma &\n  luma controller --state-dir /var/lib/luma',
    )
    .action(async (options: ControlPlaneFlags & { proxySocket?: string }, command: Command) => {
      refuseTlsOnController(options);
      const { stateDir } = globalFlags(command);
      favourSmallHeap();
      const { startControllerProcess } = await import('../../daemon/controller-process.js');
      const controller = await startControllerProcess({
        manifests: options.manifests,
        stateDir,
        ...storeFrom(options),
        apiListen: options.apiListen,
        publicListen: options.listen,
        proxySocket: options.proxySocket ?? defaultProxyPaths(stateDir).socketPath,
        ...(options.config ? { config: options.config } : {}),
        ...(options.forcePrune ? { forcePrune: true } : {}),
        ...(options.secretKeyFile ? { secretKeyFile: options.secretKeyFile } : {}),
        engine: engineChoice(options),
      });
      stopOnSignal('the controller (containers keep running)', () => controller.stop());
      process.stderr.write(`Luma controller is up: API at http://127.0.0.1:${controller.apiPort}\n`);
    });
}
