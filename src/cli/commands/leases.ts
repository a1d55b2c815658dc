import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';

// Lease-only commands: renew.

export function registerLeaseCommands(program: Command): void {
  program
    .command('renew')
    .description("Extend an Active lease's expiry (never past the operator's maximum lease time)")
    .argument('<lease>', 'lease/NAME')
    .argument('<duration>', 'how much longer, such as 10m or 1h')
    .addHelpText('after', '\nExample:\n  luma renew lease/alice-session 15m')
    .action(async (target: string, duration: string, _options: unknown, command: Command) => {
      const { kind, name } = kindAndName(target, undefined);
      if (kind !== 'Lease' || !name) throw new CliError(`renew needs lease/NAME, got "${target}"`);
      const lease = await apiClient(command).renewLease(name, duration);
      const expiresAt = lease.kind === 'Lease' ? lease.status?.expiresAt : undefined;
      process.stdout.write(`lease/${name} renewed: expires at ${expiresAt ?? 'unknown'}\n`);
    });
}
