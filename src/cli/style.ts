// Colours only where a person reads them: on a terminal, and never when NO_COLOR is set
// (https://no-color.org) or TERM is dumb. Pipes and files get plain text.

export interface Style {
  readonly enabled: boolean;
  good(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  faint(text: string): string;
  bold(text: string): string;
}

// eslint-disable-next-line no-control-regex -- ESC starts every ANSI colour sequence.
const ANSI_PATTERN = /\x1b\[[0-9;]*m/g;

export function visibleLength(text: string): number {
  return text.replace(ANSI_PATTERN, '').length;
}

export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

function wrap(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => (text === '' ? text : `\x1b[${open}m${text}\x1b[${close}m`) : (text) => text;
}

export function makeStyle(enabled: boolean): Style {
  return {
    enabled,
    good: wrap(enabled, 32, 39),
    bad: wrap(enabled, 31, 39),
    warn: wrap(enabled, 33, 39),
    faint: wrap(enabled, 2, 22),
    bold: wrap(enabled, 1, 22),
  };
}

export const PLAIN: Style = makeStyle(false);

/** The style for what a command writes on standard output. */
export function stdoutStyle(): Style {
  return makeStyle(colourWanted(process.stdout, process.env));
}

/** Phases and condition reasons that read as good news, bad news, or work in progress. */
const GOOD = new Set(['Running', 'Ready', 'Active', 'Idle', 'True', 'Normal', 'created', 'configured']);
const BAD = new Set(['Failed', 'Terminating', 'Deleted', 'Expired', 'Warning']);
const BUSY = new Set(['Pending', 'Building', 'Starting', 'Unknown', 'Released']);

export function styleWord(style: Style, word: string): string {
  if (GOOD.has(word)) return style.good(word);
  if (BAD.has(word)) return style.bad(word);
  if (BUSY.has(word)) return style.warn(word);
  return word;
}
