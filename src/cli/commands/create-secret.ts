import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { API_VERSION } from '../../model/types.js';
import { CliError } from '../api-client.js';
import { apiClient, collect } from '../common.js';
import { EXIT } from '../exit-codes.js';

// `luma create secret generic NAME --from-literal=KEY=VALUE --from-file=[KEY=]PATH`, as
// kubectl has it. The values go to the API in the request and nowhere else: no manifest
// file is written, nothing is printed but the secret's name and what happened.

interface CreateSecretFlags {
  fromLiteral: string[];
  fromFile: string[];
  type?: string;
}

const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

export function registerCreateCommand(program: Command): void {
  const create = program.command('create').description('Create an object from flags (kubectl style)');
  create
    .command('secret')
    .description('Create or update a Secret; its values reach containers through valueFrom.secretKeyRef')
    .argument('<type>', 'generic (the only type)')
    .argument('<name>', "the Secret's name")
    .option('--from-literal <key=value>', 'a key and its value (repeatable)', collect, [])
    .option(
      '--from-file <[key=]path>',
      "a key and a file's content; the key defaults to the file's name (repeatable)",
      collect,
      [],
    )
    .option('--type <type>', 'the Secret type, as in Kubernetes', 'Opaque')
    .addHelpText(
      'after',
      '\nExamples:\n  luma create secret generic db --from-literal=password=s3cret\n  luma create secret generic tls --from-file=tls.key=./server.key',
    )
    .action(async (type: string, name: string, flags: CreateSecretFlags, command: Command) => {
      if (type !== 'generic')
        throw new CliError(`create secret: only "generic" is supported, got "${type}"`, EXIT.usage);
      const data = await secretData(flags);
      if (Object.keys(data).length === 0)
        throw new CliError('create secret: give at least one --from-literal or --from-file', EXIT.usage);
      const manifest = { apiVersion: API_VERSION, kind: 'Secret', metadata: { name }, type: flags.type, data };
      const api = apiClient(command);
      const report = await api.applyFiles([{ path: `secret/${name}`, content: JSON.stringify(manifest) }], false);
      for (const result of report.results) process.stdout.write(`secret/${result.name} ${result.result}\n`);
    });
}

/** Every key's value in base64 (files may be binary); a key given twice is refused, as kubectl does. */
export async function secretData(
  flags: Pick<CreateSecretFlags, 'fromLiteral' | 'fromFile'>,
): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  const put = (key: string, value: Buffer, flag: string): void => {
    if (!KEY_PATTERN.test(key))
      throw new CliError(`${flag}: "${key}" is not a valid key (letters, digits, '-', '_' or '.')`, EXIT.usage);
    if (key in data) throw new CliError(`${flag}: the key "${key}" is given twice`, EXIT.usage);
    data[key] = value.toString('base64');
  };
  for (const literal of flags.fromLiteral) {
    const equals = literal.indexOf('=');
    // The value is never repeated in a message: it may be the secret itself.
    if (equals <= 0) throw new CliError('--from-literal: expected KEY=VALUE', EXIT.usage);
    put(literal.slice(0, equals), Buffer.from(literal.slice(equals + 1), 'utf8'), '--from-literal');
  }
  for (const spec of flags.fromFile) {
    const equals = spec.indexOf('=');
    const file = equals > 0 ? spec.slice(equals + 1) : spec;
    const key = equals > 0 ? spec.slice(0, equals) : path.basename(file);
    const content = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`--from-file: cannot read ${file} (${error.code ?? error.message})`);
    });
    put(key, content, '--from-file');
  }
  return data;
}
