import { stringify } from 'yaml';
import type { LumaEvent } from '../events/event-log.js';
import { DEFAULT_MAX_INSTANCES } from '../model/project-settings.js';
import type { LumaObject, SecretObject, TrafficTarget } from '../model/types.js';
import { rolloutLines } from './rollout-describe.js';
import { PLAIN, styleWord, visibleLength, type Style } from './style.js';

// What `get`, `describe` and `events` print: kubectl-like tables and key/value blocks.

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';
/** What -o accepts (the table is the default, not a choice). */
export const OUTPUT_CHOICES: ReadonlyArray<Exclude<OutputFormat, 'table'>> = ['wide', 'yaml', 'json', 'name'];

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
  // As in Knative, a revision that once became ready stays READY; STATUS says whether it serves.
  if (object.kind === 'Revision') return object.status?.readyAt ? 'True' : 'Unknown';
  const ready = object.status?.conditions?.find((condition) => condition.type === 'Ready');
  return ready?.status ?? 'Unknown';
}

/** `project/hello`, as kubectl's -o name prints it and as commands take it. */
export function objectRef(
  object: { kind: string; metadata: { name: string } } | { kind: string; name: string },
): string {
  return `${object.kind.toLowerCase()}/${'metadata' in object ? object.metadata.name : object.name}`;
}

export function objectRow(object: LumaObject, wide: boolean, style: Style = PLAIN): string[] {
  if (object.kind === 'Secret') return secretRow(object, wide);
  const cells = row(object, wide);
  // READY (for images and leases a condition status) and STATUS read at a glance in colour.
  return cells.map((cell, index) =>
    index === 2 || (index === 1 && object.kind !== 'Project') ? styleWord(style, cell) : cell,
  );
}

/** As kubectl: the type and how many keys; wide adds each key with its digest, never a value. */
function secretRow(object: SecretObject, wide: boolean): string[] {
  const keys = Object.entries(object.spec.data).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const base = [
    object.metadata.name,
    object.spec.type ?? 'Opaque',
    String(keys.length),
    age(object.metadata.creationTimestamp),
  ];
  return wide ? [...base, keys.map(([key, entry]) => `${key}=${entry.digest ?? 'unset'}`).join(',')] : base;
}

function row(object: Exclude<LumaObject, SecretObject>, wide: boolean): string[] {
  const phase = object.metadata.deletionTimestamp ? 'Terminating' : (object.status?.phase ?? 'Pending');
  const base = [object.metadata.name, readyColumn(object), phase, age(object.metadata.creationTimestamp)];
  switch (object.kind) {
    case 'Project': {
      const extra = [object.spec.hostnames.join(',')];
      return wide
        ? [...base, ...extra, object.status?.image ?? object.spec.image, object.status?.url ?? '']
        : [...base, ...extra];
    }
    case 'Image':
      return wide ? [...base, object.status?.image ?? ''] : base;
    case 'Lease': {
      const status = object.status;
      const expires = status?.expiresAt && !status.endedAt ? until(status.expiresAt) : '';
      const extra = [object.spec.project, expires];
      const cost = status?.cost ?? status?.estimatedCost;
      return wide
        ? [
            ...base,
            ...extra,
            status?.fromPool === undefined ? '' : status.fromPool ? 'yes' : 'no',
            cost === undefined
              ? ''
              : `${cost.toFixed(4)} ${status?.currency ?? ''}${status?.cost === undefined ? ' (est.)' : ''}`.trim(),
            status?.url ?? '',
          ]
        : [...base, ...extra];
    }
    case 'Revision': {
      const extra = [object.spec.project, String(object.spec.number)];
      return wide ? [...base, ...extra, object.spec.image] : [...base, ...extra];
    }
  }
}

/** `4m`, as in "expires in 4m"; `expired` once past. */
function until(timestamp: string, now = Date.now()): string {
  const at = Date.parse(timestamp);
  if (Number.isNaN(at)) return '<invalid>';
  return at <= now ? 'expired' : age(new Date(now - (at - now)).toISOString(), now);
}

export function objectHeader(kind: LumaObject['kind'], wide: boolean): string[] {
  const base = ['NAME', 'READY', 'STATUS', 'AGE'];
  switch (kind) {
    case 'Project':
      return wide ? [...base, 'HOSTNAMES', 'IMAGE', 'URL'] : [...base, 'HOSTNAMES'];
    case 'Image':
      return wide ? [...base, 'IMAGE'] : base;
    case 'Lease':
      return wide ? [...base, 'PROJECT', 'EXPIRES-IN', 'FROM-POOL', 'COST', 'URL'] : [...base, 'PROJECT', 'EXPIRES-IN'];
    case 'Secret':
      return wide ? ['NAME', 'TYPE', 'DATA', 'AGE', 'DIGESTS'] : ['NAME', 'TYPE', 'DATA', 'AGE'];
    case 'Revision':
      return wide ? [...base, 'PROJECT', 'NUMBER', 'IMAGE'] : [...base, 'PROJECT', 'NUMBER'];
  }
}

/** Columns padded to their widest cell (colours do not count), three spaces apart. */
export function table(rows: string[][], widths: number[] = columnWidths(rows)): string {
  return rows.map((cells) => tableLine(cells, widths)).join('\n') + '\n';
}

export function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const cells of rows)
    cells.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, visibleLength(cell))));
  return widths;
}

export function tableLine(cells: string[], widths: number[]): string {
  return cells
    .map((cell, index) =>
      index === cells.length - 1
        ? cell
        : cell + ' '.repeat(Math.max(0, (widths[index] ?? 0) - visibleLength(cell)) + 3),
    )
    .join('')
    .trimEnd();
}

export function formatObjects(
  kind: LumaObject['kind'],
  objects: LumaObject[],
  format: OutputFormat,
  single: boolean,
  style: Style = PLAIN,
): string {
  switch (format) {
    case 'json':
      return (
        JSON.stringify(
          single ? objects[0] : { apiVersion: 'luma.dev/v1alpha1', kind: 'List', items: objects },
          null,
          2,
        ) + '\n'
      );
    case 'yaml':
      return stringify(single ? objects[0] : { apiVersion: 'luma.dev/v1alpha1', kind: 'List', items: objects });
    case 'name':
      return objects.map((object) => `${objectRef(object)}\n`).join('');
    case 'table':
    case 'wide': {
      const wide = format === 'wide';
      return table([objectHeader(kind, wide), ...objects.map((object) => objectRow(object, wide, style))]);
    }
  }
}

/** `12s`, or `12s (x3 over 5m)` for an event that repeated. */
function lastSeen(event: LumaEvent, now: number): string {
  const last = age(event.lastTimestamp, now);
  return event.count > 1 ? `${last} (x${event.count} over ${age(event.firstTimestamp, now)})` : last;
}

export const EVENT_HEADER = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'COUNT', 'MESSAGE'];

export function eventRow(event: LumaEvent, style: Style = PLAIN, now = Date.now()): string[] {
  return [
    lastSeen(event, now),
    event.type === 'Warning' ? style.warn(event.type) : event.type,
    event.reason,
    objectRef(event.object),
    String(event.count),
    event.message,
  ];
}

export function formatEvents(events: LumaEvent[], style: Style = PLAIN, now = Date.now()): string {
  return table([EVENT_HEADER, ...events.map((event) => eventRow(event, style, now))]);
}

export function describe(object: LumaObject, events: LumaEvent[] = [], style: Style = PLAIN, now = Date.now()): string {
  const lines: string[] = [];
  const phase = object.metadata.deletionTimestamp ? 'Terminating' : (object.status?.phase ?? 'Pending');
  lines.push(`Name:         ${object.metadata.name}`);
  lines.push(`Kind:         ${object.kind}`);
  lines.push(`UID:          ${object.metadata.uid ?? ''}`);
  lines.push(
    `Generation:   ${object.metadata.generation ?? ''} (observed ${object.status?.observedGeneration ?? 'none'})`,
  );
  lines.push(
    `Created:      ${object.metadata.creationTimestamp ?? ''} (${age(object.metadata.creationTimestamp, now)} ago)`,
  );
  if (object.metadata.labels && Object.keys(object.metadata.labels).length > 0) {
    lines.push(
      `Labels:       ${Object.entries(object.metadata.labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ')}`,
    );
  }
  if (object.metadata.deletionTimestamp)
    lines.push(
      `Deleting:     since ${object.metadata.deletionTimestamp}, waiting for ${(object.metadata.finalizers ?? []).join(', ') || 'nothing'}`,
    );
  lines.push(`Phase:        ${styleWord(style, phase)}`);
  lines.push('Spec:');
  lines.push(indent(stringify(object.spec)));
  const { conditions, ...rest } = object.status ?? {};
  if (Object.keys(rest).length > 0) {
    lines.push('Status:');
    lines.push(indent(stringify(rest)));
  }
  if (object.kind === 'Project' && object.status?.traffic) lines.push(...trafficLines(object.status.traffic));
  if (object.kind === 'Project') lines.push(...rolloutLines(object, (timestamp) => age(timestamp, now)));
  lines.push('Conditions:');
  if (!conditions || conditions.length === 0) lines.push('  <none>');
  else {
    const colourStatus = (type: string, status: string): string => {
      // Ready=True is good news; Stalled=True is bad news; Reconciling=True is work in progress.
      if (status !== 'True') return type === 'Ready' && status === 'False' ? style.warn(status) : status;
      return type === 'Ready' ? style.good(status) : type === 'Stalled' ? style.bad(status) : style.warn(status);
    };
    lines.push(
      indent(
        table([
          ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
          ...conditions.map((condition) => [
            condition.type,
            colourStatus(condition.type, condition.status),
            condition.reason,
            age(condition.lastTransitionTime, now),
            condition.message,
          ]),
        ]),
      ),
    );
  }
  lines.push('Events:');
  if (events.length === 0) lines.push('  <none>');
  else {
    lines.push(
      indent(
        table([
          ['TYPE', 'REASON', 'AGE', 'FROM', 'MESSAGE'],
          ...events.map((event) => [
            event.type === 'Warning' ? style.warn(event.type) : event.type,
            event.reason,
            lastSeen(event, now),
            event.source,
            event.message,
          ]),
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

/** `luma describe project`: the split the proxy routes now, one revision a line. */
function trafficLines(traffic: readonly TrafficTarget[]): string[] {
  const rows = traffic.map((target) => [target.revisionName, `${target.percent}%`, target.tag ?? '', target.url ?? '']);
  return ['Traffic:', indent(table([['REVISION', 'PERCENT', 'TAG', 'URL'], ...rows]))];
}
