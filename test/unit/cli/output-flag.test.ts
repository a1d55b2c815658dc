import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseOutputFlag, renderTemplated } from '../../../src/cli/output-flag.js';

// -o: the fixed formats, jsonpath=… and custom-columns=…, each refused with a reason.

const ITEMS = [
  {
    metadata: { name: 'shop' },
    spec: { hostnames: ['shop.localhost', 'www.localhost'] },
    status: { phase: 'Running' },
  },
  { metadata: { name: 'blog' }, spec: { hostnames: ['blog.localhost'] } },
];

describe('-o', () => {
  it.each(['wide', 'yaml', 'json', 'name'])('takes %s', (format) => {
    expect(parseOutputFlag(format)).toEqual({ format });
  });

  it('renders custom-columns, a missing field as <none> and several matches joined by commas', () => {
    const spec = parseOutputFlag('custom-columns=NAME:.metadata.name,PHASE:{.status.phase},HOSTS:.spec.hostnames[*]');
    expect(renderTemplated(spec, ITEMS, false)).toBe(
      [
        'NAME   PHASE     HOSTS',
        'shop   Running   shop.localhost,www.localhost',
        'blog   <none>    blog.localhost',
        '',
      ].join('\n'),
    );
  });

  it('applies jsonpath to the object for one, to a List for many', () => {
    const spec = parseOutputFlag('jsonpath={.metadata.name}');
    expect(renderTemplated(spec, ITEMS.slice(0, 1), true)).toBe('shop');
    expect(renderTemplated(parseOutputFlag('jsonpath={.kind}:{.items[*].metadata.name}'), ITEMS, false)).toBe(
      'List:shop blog',
    );
  });

  it.each([
    ['tabel', '"tabel" is not an output format'],
    ['jsonpath', '-o jsonpath needs a value'],
    ['jsonpath=', '-o jsonpath needs a value'],
    ['jsonpath={.items[', 'unclosed "{"'],
    ['custom-columns=NAME', '"NAME" is not HEADER:PATH'],
    ['custom-columns=:.metadata.name', 'is not HEADER:PATH'],
  ])('refuses %s as a usage error', (value, reason) => {
    expect(() => parseOutputFlag(value)).toThrow(InvalidArgumentError);
    expect(() => parseOutputFlag(value)).toThrow(reason);
  });
});
