import { Option, type Command } from 'commander';
import { stringify } from 'yaml';
import type { MetricsSummary, ProjectMetrics } from '../../metrics/project-summary.js';
import { CliError } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../format.js';

// `luma metrics [project/NAME]`: what the console's project and overview views show of the
// metrics, from the same API route (GET /metrics/projects).

const HEADER = ['PROJECT', 'COLD STARTS', 'MEDIAN', 'PHASES (MEAN)', 'REQUESTS', 'P50', 'P95'];

export function seconds(value: number | null): string {
  if (value === null) return '-';
  return value < 1 ? `${Math.round(value * 1000)}ms` : `${value.toFixed(2)}s`;
}

function row(project: ProjectMetrics, proxy: boolean): string[] {
  const phases = project.phases.map((phase) => `${phase.phase} ${seconds(phase.meanSeconds)}`).join(', ');
  return [
    project.project,
    String(project.coldStarts),
    seconds(project.coldStartMedianSeconds),
    phases || '-',
    proxy ? String(project.requests) : '-',
    seconds(project.latencyMedianSeconds),
    seconds(project.latencyP95Seconds),
  ];
}

export function formatMetrics(summary: MetricsSummary): string {
  const lines = table([HEADER, ...summary.projects.map((project) => row(project, summary.proxy))]);
  const note = summary.proxy ? '' : '\nRequests are counted by the proxy process (luma proxy run): see its /metrics.\n';
  return lines + note;
}

export function registerMetricsCommand(program: Command): void {
  program
    .command('metrics')
    .description('Per project: cold starts (count, median, phases), requests and their latency')
    .argument('[project]', 'only this one: project/NAME')
    .addOption(new Option('-o, --output <format>', 'json or yaml instead of the table').choices(['json', 'yaml']))
    .addHelpText(
      'after',
      `
Figures count from the start of the running Luma; medians and percentiles are estimated
from histogram buckets, as Prometheus does.

Examples:
  luma metrics
  luma metrics project/hello -o json`,
    )
    .action(async (target: string | undefined, options: { output?: 'json' | 'yaml' }, command: Command) => {
      let name: string | undefined;
      if (target !== undefined) {
        const parsed = kindAndName(target, undefined);
        if (parsed.kind !== 'Project' || !parsed.name)
          throw new CliError(`metrics needs project/NAME, got "${target}"`, EXIT.usage);
        name = parsed.name;
      }
      const summary = await apiClient(command).projectMetrics(name);
      if (options.output === 'json') process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else if (options.output === 'yaml') process.stdout.write(stringify(summary));
      else process.stdout.write(formatMetrics(summary));
    });
}
