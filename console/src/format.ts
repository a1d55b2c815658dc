// Plain formatting for people: relative times, durations, money, quantities.

const FUTURE_SLACK_SECONDS = 2;

export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '—';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  // The ticking clock runs up to a second behind the data it shows, so a moment just past
  // can look a second ahead: that is "just now". Further ahead, the two clocks differ.
  if (seconds < -FUTURE_SLACK_SECONDS) return `in ${duration(-seconds)}`;
  return seconds < 2 ? 'just now' : `${duration(seconds)} ago`;
}

/** `1h 02m`, `4m 05s`, `12s`. */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

export function money(amount: number | undefined, currency = ''): string {
  if (amount === undefined) return '—';
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 4 : 2;
  return `${amount.toFixed(digits)}${currency ? ` ${currency}` : ''}`;
}

export function day(iso: string): string {
  return iso.slice(0, 10);
}

/** `240 ms`, `1.35 s`; a dash for no figure. */
export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}
