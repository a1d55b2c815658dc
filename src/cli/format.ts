import { stringify } from 'yaml';
import { DEFAULT_MAX_INSTANCES } from '../model/project-settings.js';
import type { LumaObject } from '../model/types.js';

// What `get` and `describe` print: kubectl-like tables and key/value blocks.

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json';

export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>';
  if (Number.isNaN(Date.parse(timestamp))) return '<invalid>';
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

function readyColumn(object: LumaObject): string {
  if (object.kind === 'Project') {
    const instances = object.status?.instances;
    const scaling = object.spec.scaling;
    const max = scaling?.maxInstances ?? Math.max(DEFAULT_MAX_INSTANCES, scaling?.minInstances ?? 0);
    return `${instances?.running ?? 0}/${max}`;
  }
  const ready = object.status?.conditions?.find((condition) => condition.type === 'Ready');
  return ready?.status ?? 'Unknown';
}

function row(object: LumaObject, wide: boolean): string[] {
  const phase = object.metadata.deletionTimestamp ? 'Terminating' : (object.status?.phase ?? 'Pending');
  const base = [object.metadata.name, readyColumn(object), phase, age(object.metadata.creationTimestamp)];
  switch (object.kind) {
    case 'Project': {
      const extra = [object.spec.hostnames.join(',')];
      return wide ? [...base, ...extra, object.status?.image ?? object.spec.image, object.status?.url ?? ''] : [...base, ...extra];
    }
    case 'Image':
      return wide ? [...base, object.status?.image ?? ''] : base;
    case 'Lease': {
      const status = object.status;
      const expires = status?.expiresAt && !status.endedAt ? until(status.expiresAt) : '';
      const extra = [object.spec.project, expires];
      const cost = status?.cost ?? status?.estimatedCost;
      return wide ? [...base, ...extra, status?.fromPool === undefined ? '' : status.fromPool ? 'yes' : 'no', cost === undefined ? '' : `${cost.toFixed(4)} ${status?.currency ?? ''}${status?.cost === undefined ? ' (est.)' : ''}`.trim(), status?.url ?? ''] : [...base, ...extra];
    }
  }
}

/** `4m`, as in "expires in 4m"; `expired` once past. */
function until(timestamp: string, now = Date.now()): string {
  const at = Date.parse(timestamp);
  if (Number.isNaN(at)) return '<invalid>';
  return at <= now ? 'expired' : age(new Date(now - (at - now)).toISOString(), now);
}

function header(kind: LumaObject['kind'], wide: boolean): string[] {
  const base = ['NAME', 'READY', 'STATUS', 'AGE'];
  switch (kind) {
    case 'Project':
      return wide ? [...base, 'HOSTNAMES', 'IMAGE', 'URL'] : [...base, 'HOSTNAMES'];
    case 'Image':
      return wide ? [...base, 'IMAGE'] : base;
    case 'Lease':
      return wide ? [...base, 'PROJECT', 'EXPIRES-IN', 'FROM-POOL', 'COST', 'URL'] : [...base, 'PROJECT', 'EXPIRES-IN'];
  }
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const cells of rows) cells.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((cells) => cells.map((cell, index) => (index === cells.length - 1 ? cell : cell.padEnd((widths[index] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}

export function formatObjects(kind: LumaObject['kind'], objects: LumaObject[], format: OutputFormat, single: boolean): string {
  switch (format) {
    case 'json':
      return JSON.stringify(single ? objects[0] : { apiVersion: 'luma.dev/v1alpha1', kind: 'List', items: objects }, null, 2) + '\n';
    case 'yaml':
      return stringify(single ? objects[0] : { apiVersion: 'luma.dev/v1alpha1', kind: 'List', items: objects });
    case 'table':
    case 'wide': {
      const wide = format === 'wide';
      return table([header(kind, wide), ...objects.map((object) => row(object, wide))]);
    }
  }
}

export function describe(object: LumaObject): string {
  const lines: string[] = [];
  lines.push(`Name:         ${object.metadata.name}`);
  lines.push(`Kind:         ${object.kind}`);
  lines.push(`UID:          ${object.metadata.uid ?? ''}`);
  lines.push(`Generation:   ${object.metadata.generation ?? ''} (observed ${object.status?.observedGeneration ?? 'none'})`);
  lines.push(`Created:      ${object.metadata.creationTimestamp ?? ''} (${age(object.metadata.creationTimestamp)} ago)`);
  if (object.metadata.labels && Object.keys(object.metadata.labels).length > 0) {
    lines.push(`Labels:       ${Object.entries(object.metadata.labels).map(([key, value]) => `${key}=${value}`).join(', ')}`);
  }
  lines.push(`Phase:        ${object.status?.phase ?? 'Pending'}`);
  lines.push('Spec:');
  lines.push(indent(stringify(object.spec)));
  const { conditions, ...rest } = object.status ?? {};
  if (Object.keys(rest).length > 0) {
    lines.push('Status:');
    lines.push(indent(stringify(rest)));
  }
  lines.push('Conditions:');
  if (!conditions || conditions.length === 0) lines.push('  <none>');
  else {
    lines.push(
      indent(
        table([
          ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
          ...conditions.map((condition) => [condition.type, condition.status, condition.reason, age(condition.lastTransitionTime), condition.message]),
        ]),
      ),
    );
  }
  return lines.join('\n').replace(/\n+$/, '') + '\n';
}

function indent(text: string): string {
  return text
    .replace(/\n+$/, '')
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
