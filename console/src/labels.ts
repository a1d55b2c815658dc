// The overview's label filter, in the simple forms of kubectl's selectors: `a=b`, `a!=b`,
// `a` (has the label) and `!a`, comma meaning and. Anything else matches nothing, and
// the view says the filter is not understood.

type Term = (labels: Record<string, string>) => boolean;

export function parseSelector(text: string): Term[] | undefined {
  const terms: Term[] = [];
  for (const raw of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const term = parseTerm(raw);
    if (!term) return undefined;
    terms.push(term);
  }
  return terms;
}

function parseTerm(raw: string): Term | undefined {
  const match = /^(!)?([\w./-]+)(?:\s*(!=|==|=)\s*([\w./-]*))?$/.exec(raw);
  if (!match) return undefined;
  const [, not, key = '', op, value = ''] = match;
  if (op === undefined) return (labels) => key in labels !== Boolean(not);
  if (not) return undefined;
  return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
}

export function matches(terms: Term[], labels: Record<string, string> | undefined): boolean {
  return terms.every((term) => term(labels ?? {}));
}
