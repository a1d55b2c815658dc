import type { Command } from 'commander';
import { Option } from 'commander';
import { defaultProxyPaths } from '../../proxy/daemon.js';
import { CliError } from '../api-client.js';
import { globalFlags, stopOnSignal } from '../common.js';

// The long-running processes: `luma up` (everything in one) and `luma controller`
// (the control plane alone, steering a separately run proxy).

interface ControlPlaneFlags {
  manifests: string;
  listen: string;
  apiListen: string;
  httpsListen?: string;
  acmeDirectory?: string;
  config?: string;
}

function addControlPlaneFlags(command: Command): Command {
  return command
    .addOption(new Option('--manifests <dir>', 'directory of manifests applied at start').env('LUMA_MANIFESTS').default('./manifests'))
    .addOption(new Option('--listen <addr>', 'public HTTP listener (the proxy)').env('LUMA_LISTEN').default('127.0.0.1:8080'))
    .addOption(new Option('--api-listen <addr>', 'API listener').env('LUMA_API_LISTEN').default('127.0.0.1:7070'))
    .addOption(new Option('--https-listen <addr>', 'HTTPS listener (not available yet)').env('LUMA_HTTPS_LISTEN'))
    .addOption(new Option('--acme-directory <url>', 'ACME directory URL (not available yet)').env('LUMA_ACME_DIRECTORY'))
    .addOption(new Option('--config <file>', 'operator settings (YAML)').env('LUMA_CONFIG'));
}

function refuseTls(options: ControlPlaneFlags): void {
  if (options.httpsListen || options.acmeDirectory) throw new CliError('--https-listen and --acme-directory are not supported yet (TLS comes in a later release)');
}

export function registerDaemonCommands(program: Command): void {
  addControlPlaneFlags(program.command('up').description('Run Luma in one process (store, controller, proxy, API) on the embedded default'))
    .addHelpText('after', '\nExample:\n  luma up --manifests ./manifests --listen 127.0.0.1:8080')
    .action(async (options: ControlPlaneFlags, command: Command) => {
      refuseTls(options);
      const { stateDir } = globalFlags(command);
      const { startLuma } = await import('../../daemon/up.js');
      const luma = await startLuma({
        manifests: options.manifests,
        stateDir,
        listen: options.listen,
        apiListen: options.apiListen,
        ...(options.config ? { config: options.config } : {}),
      });
      stopOnSignal('Luma (containers keep running and are adopted at the next start)', () => luma.stop());
      process.stderr.write(`Luma is up: apps at http://127.0.0.1:${luma.proxyPort}, API at http://127.0.0.1:${luma.apiPort}, state in ${stateDir}\n`);
    });

  addControlPlaneFlags(program.command('controller').description('Run the controller and API alone, steering a proxy started with `luma proxy run`'))
    .addOption(new Option('--proxy-socket <path>', "the proxy's management socket (default: STATE_DIR/proxy/proxy.sock)").env('LUMA_PROXY_SOCKET'))
    .addHelpText('after', '\nExample:\n  luma proxy run --state-dir /var/lib/luma &\n  luma controller --state-dir /var/lib/luma')
    .action(async (options: ControlPlaneFlags & { proxySocket?: string }, command: Command) => {
      refuseTls(options);
      const { stateDir } = globalFlags(command);
      const { startControllerProcess } = await import('../../daemon/controller-process.js');
      const controller = await startControllerProcess({
        manifests: options.manifests,
        stateDir,
        apiListen: options.apiListen,
        publicListen: options.listen,
        proxySocket: options.proxySocket ?? defaultProxyPaths(stateDir).socketPath,
        ...(options.config ? { config: options.config } : {}),
      });
      stopOnSignal('the controller (containers keep running)', () => controller.stop());
      process.stderr.write(`Luma controller is up: API at http://127.0.0.1:${controller.apiPort}\n`);
    });
}
