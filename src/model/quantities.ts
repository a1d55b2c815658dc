// Quantities as users write them (Go-style durations, Kubernetes-style CPU and memory)
// and the plain numbers the rest of Luma computes with. The schemas in schemas/ carry
// the same grammar as regular expressions so that editors flag a bad value as it is
// typed; test/unit/model/schemas.test.ts keeps the two in step.

/** What a valid value looks like, shared by error messages here and in the schemas. */
export const DURATION_EXPECTED = 'a duration such as 90s, 5m or 1h30m';
export const CPU_EXPECTED = 'a CPU quantity such as 500m, 1.5 or 2';
export const MEMORY_EXPECTED = 'a memory size such as 256Mi, 1Gi or 512M';

export class QuantityError extends Error {
  constructor(
    readonly expected: string,
    readonly input: unknown,
  ) {
    super(`expected ${expected}, got ${JSON.stringify(input) ?? String(input)}`);
    this.name = 'QuantityError';
  }
}

// ---------- durations ----------

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type DurationUnit = keyof typeof DURATION_UNITS_MS;

const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
// `ms` is listed before `m` so that `500ms` is not read as 500 minutes and a stray `s`.
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** `90s`, `5m`, `1h30m`, `500ms`, `1.5h` → milliseconds (rounded to a whole number). */
export function parseDuration(input: string): number {
  if (typeof input !== 'string' || !DURATION_PATTERN.test(input)) throw new QuantityError(DURATION_EXPECTED, input);
  let total = 0;
  for (const match of input.matchAll(DURATION_PART)) {
    total += Number(match[1]) * DURATION_UNITS_MS[match[2] as DurationUnit];
  }
  return Math.round(total);
}

/** Milliseconds → the shortest exact form that parseDuration reads back: `1h30m`, `1m30s500ms`, `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format ${ms} as a duration`);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0s';
  let out = '';
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const size = DURATION_UNITS_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return sign + out;
}

// ---------- CPU ----------

const CPU_PATTERN = /^(?:(\d+)m|(\d+(?:\.\d{1,3})?))$/;

/** `500m`, `1.5`, `2` → millicores. Finer than a millicore is refused rather than rounded. */
export function parseCpu(input: string): number {
  const match = typeof input === 'string' ? CPU_PATTERN.exec(input) : null;
  if (!match) throw new QuantityError(CPU_EXPECTED, input);
  if (match[1] !== undefined) return Number(match[1]);
  return Math.round(Number(match[2]) * 1000);
}

/** Millicores → `2` for whole cores, `1500m` otherwise. */
export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

// ---------- memory ----------

const MEMORY_UNITS = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
} as const;
type MemoryUnit = keyof typeof MEMORY_UNITS;

// The Kubernetes suffixes. Docker's lower-case `m`/`g` are refused: in Kubernetes `256m`
// means a quarter of a byte, and guessing either way would surprise someone.
const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** `256Mi`, `1Gi`, `512M`, `64Ki`, `1000000` → bytes (fractions round up, as in Kubernetes). */
export function parseMemory(input: string): number {
  const match = typeof input === 'string' ? MEMORY_PATTERN.exec(input) : null;
  if (!match) throw new QuantityError(MEMORY_EXPECTED, input);
  return Math.ceil(Number(match[1]) * MEMORY_UNITS[(match[2] ?? '') as MemoryUnit]);
}

/** Bytes → the shortest exact form, binary units winning ties: `256Mi`, `512M`, `1000001`. */
export function formatMemory(bytes: number): string {
  let best = String(bytes);
  if (bytes === 0) return best;
  const candidates: MemoryUnit[] = ['Pi', 'Ti', 'Gi', 'Mi', 'Ki', 'P', 'T', 'G', 'M', 'k'];
  for (const unit of candidates) {
    const size = MEMORY_UNITS[unit];
    const text = `${bytes / size}${unit}`;
    if (bytes % size === 0 && text.length < best.length) best = text;
  }
  return best;
}
