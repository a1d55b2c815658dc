import type { Command } from 'commander';
import { API_VERSION } from '../../model/types.js';
import { CliError } from '../api-client.js';
import { parseKind } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { ExplainError, explainText, findField, type SchemaNode } from '../schema-explain.js';

// `luma explain KIND[.field…]`: what a field means, from the JSON Schemas. Offline: it
// reads schemas/ beside the installed CLI and never calls the API. A kind or field that
// does not exist is a bad command line (exit 2), like any other unknown name.

async function explain(target: string, recursive: boolean): Promise<string> {
  const [kindText = '', ...path] = target.split('.');
  const kind = parseKind(kindText);
  if (path.some((field) => field === ''))
    throw new CliError(`"${target}" is not KIND.field.field… (an empty field name)`, EXIT.usage);
  // Loaded when used: model/schemas.js brings ajv along, which other commands need not load.
  const { loadSchema } = await import('../../model/schemas.js');
  const schema = loadSchema(kind) as SchemaNode;
  try {
    return explainText(schema, kind, API_VERSION, findField(schema, kind, path), recursive);
  } catch (error) {
    if (error instanceof ExplainError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description("Describe a kind's fields from its JSON Schema: luma explain project.spec.scaling")
    .argument('<target>', 'KIND or KIND.field.field… (project, image, lease)')
    .option('--recursive', 'list every field below, by name and type')
    .addHelpText(
      'after',
      `
Examples:
  luma explain project
  luma explain project.spec.scaling
  luma explain lease.spec --recursive`,
    )
    .action(async (target: string, options: { recursive?: boolean }) => {
      process.stdout.write(await explain(target, options.recursive ?? false));
    });
}
