// Label selectors in kubectl's syntax: `a=b` (or `a==b`), `a!=b`, `a` (has the label),
// `!a` (has it not), `a in (x,y)`, `a notin (x,y)`, joined by commas, all of which must
// hold. Pure: parsed once, then matched against any object's labels.

export type Requirement =
  { key: string; operator: 'exists' | 'notExists' } | { key: string; operator: 'in' | 'notIn'; values: string[] };

export type LabelSelector = Requirement[];

export class SelectorError extends Error {
  constructor(
    readonly selector: string,
    reason: string,
  ) {
    super(`invalid label selector "${selector}": ${reason}`);
    this.name = 'SelectorError';
  }
}

// Label keys: an optional DNS prefix and a name (luma.dev/kind, app, tier.x-y_z).
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits at commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += char;
  }
  terms.push(current.trim());
  return terms;
}

export function parseLabelSelector(selector: string): LabelSelector {
  if (selector.trim() === '') return [];
  return splitTerms(selector).map((term) => parseTerm(term, selector));
}

function parseTerm(term: string, selector: string): Requirement {
  const fail = (reason: string): never => {
    throw new SelectorError(selector, reason);
  };
  const checkKey = (key: string): string => (KEY.test(key) ? key : fail(`"${key}" is not a label key`));
  const checkValue = (value: string): string => (VALUE.test(value) ? value : fail(`"${value}" is not a label value`));
  if (term === '') return fail('an empty requirement (two commas, or one at an end)');

  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (set) {
    const values = (set[3] ?? '').split(',').map((value) => value.trim());
    if (values.some((value) => value === '')) return fail(`"${term}" needs a list of values such as (a,b)`);
    return { key: checkKey(set[1] ?? ''), operator: set[2] === 'in' ? 'in' : 'notIn', values: values.map(checkValue) };
  }
  const comparison = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (comparison) {
    const value = checkValue((comparison[3] ?? '').trim());
    return { key: checkKey(comparison[1] ?? ''), operator: comparison[2] === '!=' ? 'notIn' : 'in', values: [value] };
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim()), operator: 'notExists' };
  if (/\s/.test(term))
    return fail(
      `"${term}" is not a requirement (write key=value, key!=value, key, !key, key in (a,b) or key notin (a,b))`,
    );
  return { key: checkKey(term), operator: 'exists' };
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  return selector.every((requirement) => {
    const value = labels?.[requirement.key];
    switch (requirement.operator) {
      case 'exists':
        return value !== undefined;
      case 'notExists':
        return value === undefined;
      case 'in':
        return value !== undefined && requirement.values.includes(value);
      case 'notIn':
        // As in Kubernetes: an object without the label matches `a!=b` and `a notin (b)`.
        return value === undefined || !requirement.values.includes(value);
    }
  });
}
