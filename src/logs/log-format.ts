import type { LogRecord } from './object-log.js';

// How a log line reads as text, the same in the API's plain-text answer and in the CLI:
// `[web-3fa9c1] 2026-01-02T03:04:05.123456789Z the line`. The instance comes first so
// that lines of one instance line up; the time is Docker's RFC 3339 stamp, in UTC.

export interface LineFormat {
  /** Start each line with the instance that wrote it (a project has several). */
  prefix: boolean;
  timestamps: boolean;
}

export function formatLogLine(record: LogRecord, format: LineFormat): string {
  const parts: string[] = [];
  if (format.prefix) parts.push(`[${record.instance}]`);
  if (format.timestamps) parts.push(record.time);
  parts.push(record.line);
  return parts.join(' ');
}
