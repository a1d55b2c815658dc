import { InvalidArgumentError } from 'commander';
import { parseCustomColumns, renderCustomColumns, type CustomColumn } from './custom-columns.js';
import { OUTPUT_CHOICES, type OutputFormat } from './format.js';
import { parseTemplate, renderTemplate, TemplateError, type JsonPathTemplate } from './jsonpath-template.js';

// `-o` of `get`: the fixed formats (wide, yaml, json, name) and kubectl's two templated
// ones, `jsonpath=TEMPLATE` and `custom-columns=SPEC`, parsed when the flag is read so that
// a bad template is a usage error (exit 2) before any request is made.

export type OutputSpec =
  | { format: OutputFormat }
  | { format: 'jsonpath'; template: JsonPathTemplate }
  | { format: 'custom-columns'; spec: string; columns: CustomColumn[] };

export const OUTPUT_HELP = 'wide, yaml, json, name, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,…';

/** commander's argParser for -o. */
export function parseOutputFlag(value: string): OutputSpec {
  const equals = value.indexOf('=');
  const name = equals < 0 ? value : value.slice(0, equals);
  const argument = equals < 0 ? '' : value.slice(equals + 1);
  try {
    if (name === 'jsonpath') return { format: 'jsonpath', template: parseTemplate(requireArgument(name, argument)) };
    if (name === 'custom-columns')
      return { format: 'custom-columns', spec: argument, columns: parseCustomColumns(requireArgument(name, argument)) };
  } catch (error) {
    if (error instanceof TemplateError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  const fixed = OUTPUT_CHOICES.find((choice) => choice === value);
  if (fixed === undefined)
    throw new InvalidArgumentError(`"${value}" is not an output format (known: ${OUTPUT_HELP}).`);
  return { format: fixed };
}

function requireArgument(name: string, argument: string): string {
  if (argument === '') throw new InvalidArgumentError(`-o ${name} needs a value: -o ${name}=…`);
  return argument;
}

/** -o jsonpath / custom-columns for one object or a List of them; undefined for the fixed formats. */
export function renderTemplated(spec: OutputSpec, items: unknown[], single: boolean): string | undefined {
  if (spec.format === 'jsonpath') {
    const subject = single ? items[0] : { apiVersion: 'luma.dev/v1alpha1', kind: 'List', items };
    return renderTemplate(spec.template, subject);
  }
  if (spec.format === 'custom-columns') return renderCustomColumns(spec.columns, items, spec.spec);
  return undefined;
}
