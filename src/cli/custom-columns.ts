import { evaluatePath, TemplateError, toJsonPath } from './jsonpath-template.js';
import { table } from './format.js';

// kubectl's `-o custom-columns=HEADER:PATH,…`: one row per object, one column per
// HEADER:PATH pair. PATH is a JSONPath expression with or without its braces
// (`.metadata.name` or `{.metadata.name}`); several matches are joined with commas and a
// missing field prints `<none>`, as kubectl does.

export interface CustomColumn {
  header: string;
  path: string;
}

export function parseCustomColumns(spec: string): CustomColumn[] {
  if (spec.trim() === '')
    throw new TemplateError(spec, 'custom-columns needs HEADER:PATH pairs, such as NAME:.metadata.name');
  return spec.split(',').map((pair) => {
    const colon = pair.indexOf(':');
    const header = pair.slice(0, colon).trim();
    const path = pair.slice(colon + 1).trim();
    if (colon <= 0 || path === '')
      throw new TemplateError(spec, `"${pair}" is not HEADER:PATH (such as NAME:.metadata.name)`);
    return { header, path: toJsonPath(path.replace(/^\{(.*)\}$/, '$1')) };
  });
}

export function renderCustomColumns(columns: CustomColumn[], objects: unknown[], spec: string): string {
  const rows = objects.map((object) => columns.map((column) => cell(evaluatePath(column.path, object, spec))));
  return table([columns.map((column) => column.header), ...rows]);
}

function cell(values: unknown[]): string {
  const shown = values.filter((value) => value !== undefined && value !== null);
  if (shown.length === 0) return '<none>';
  return shown.map((value) => (typeof value === 'object' ? JSON.stringify(value) : String(value))).join(',');
}
