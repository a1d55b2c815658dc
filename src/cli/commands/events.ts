import type { Command } from 'commander';
import { Option } from 'commander';
import { stringify } from 'yaml';
import type { LumaEvent } from '../../events/event-log.js';
import { CliError, type ApiClient, type EventQuery } from '../api-client.js';
import { apiClient, kindAndName } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { columnWidths, EVENT_HEADER, eventRow, formatEvents, tableLine } from '../format.js';
import { stdoutStyle } from '../style.js';

// `luma events`: what happened to objects lately, oldest first; repeats are counted.

const EVENT_TYPES = ['Normal', 'Warning'] as const;
type EventTypeName = (typeof EVENT_TYPES)[number];

interface EventsArguments {
  query: EventQuery;
  types: EventTypeName[];
  output: 'table' | 'json' | 'yaml';
  watch: boolean;
}

async function events(api: ApiClient, args: EventsArguments): Promise<void> {
  const style = stdoutStyle();
  const wanted = (event: LumaEvent): boolean => args.types.length === 0 || args.types.includes(event.type);
  if (!args.watch) {
    const items = (await api.events(args.query)).items.filter(wanted);
    if (args.output === 'json') return void process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
    if (args.output === 'yaml') return void process.stdout.write(stringify({ items }));
    if (items.length === 0) return void process.stderr.write('No events found.\n');
    return void process.stdout.write(formatEvents(items, style));
  }
  const initial: LumaEvent[] = [];
  let widths: number[] | undefined;
  for await (const message of api.watchEvents(args.query)) {
    if (message === 'SYNCED') {
      if (args.output !== 'table') continue;
      const rows = [EVENT_HEADER, ...initial.map((event) => eventRow(event, style))];
      widths = columnWidths(rows).map((width) => width + 2);
      process.stdout.write(rows.map((cells) => tableLine(cells, widths ?? [])).join('\n') + '\n');
      continue;
    }
    if (!wanted(message)) continue;
    if (args.output === 'json') process.stdout.write(`${JSON.stringify(message)}\n`);
    else if (args.output === 'yaml') process.stdout.write(`---\n${stringify(message)}`);
    else if (widths === undefined) initial.push(message);
    else process.stdout.write(tableLine(eventRow(message, style), widths) + '\n');
  }
}

function parseTypes(input: string | undefined): EventTypeName[] {
  if (input === undefined) return [];
  return input.split(',').map((type) => {
    const known = EVENT_TYPES.find((candidate) => candidate.toLowerCase() === type.trim().toLowerCase());
    if (!known) throw new CliError(`--types: "${type}" is not an event type (Normal, Warning)`, EXIT.usage);
    return known;
  });
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('Show recent events (Normal and Warning, repeats counted), oldest first')
    .argument('[object]', "only this object's: KIND/NAME, or KIND for all of a kind")
    .option('--for <object>', 'the same as the argument: KIND/NAME (kubectl events --for)')
    .option('--types <types>', 'only these types, comma-separated: Normal, Warning')
    .option('-w, --watch', 'after the events so far, print each new or repeated one until interrupted')
    .addOption(new Option('-o, --output <format>', 'json or yaml instead of the table').choices(['json', 'yaml']))
    .addHelpText(
      'after',
      `
Events live in the memory of the running Luma (the newest 2,000): they explain recent
history; objects and the usage ledger are the record.

Examples:
  luma events
  luma events project/hello
  luma events --types Warning -w`,
    )
    .action(
      async (
        objectArg: string | undefined,
        options: { for?: string; types?: string; watch?: boolean; output?: 'json' | 'yaml' },
        command: Command,
      ) => {
        if (objectArg !== undefined && options.for !== undefined)
          throw new CliError('give the object once: as an argument or with --for', EXIT.usage);
        const target = objectArg ?? options.for;
        const query: EventQuery = {};
        if (target !== undefined) {
          const { kind, name } = kindAndName(target, undefined);
          query.kind = kind;
          if (name !== undefined) query.name = name;
        }
        await events(apiClient(command), {
          query,
          types: parseTypes(options.types),
          output: options.output ?? 'table',
          watch: options.watch ?? false,
        });
      },
    );
}
