import { stringify } from 'yaml';
import { CliError, type ApiClient } from '../api-client.js';
import { EXIT } from '../exit-codes.js';
import { renderTemplate, TemplateError } from '../jsonpath-template.js';
import type { OutputSpec } from '../output-flag.js';
import { stdoutStyle } from '../style.js';
import { formatSyncStatus } from '../sync-format.js';

// `luma get sync`: the watched manifests directory's status, from GET /api/v1alpha1/sync.

export async function getSync(api: ApiClient, output: OutputSpec | undefined): Promise<void> {
  const status = await api.syncStatus();
  switch (output?.format ?? 'table') {
    case 'table':
      process.stdout.write(formatSyncStatus(status, stdoutStyle()));
      return;
    case 'json':
      process.stdout.write(JSON.stringify(status, null, 2) + '\n');
      return;
    case 'yaml':
      process.stdout.write(stringify(status));
      return;
  }
  if (output?.format !== 'jsonpath') throw new CliError('get sync takes -o yaml, json or jsonpath=…', EXIT.usage);
  try {
    process.stdout.write(renderTemplate(output.template, status));
  } catch (error) {
    if (error instanceof TemplateError) throw new CliError(error.message);
    throw error;
  }
}
