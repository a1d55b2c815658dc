import { describe, expect, it } from 'vitest';
import { parseTemplate, renderTemplate, TemplateError, toJsonPath } from '../../../src/cli/jsonpath-template.js';

// kubectl's -o jsonpath dialect: the template layer is ours, paths go to jsonpath-plus.

const LIST = {
  kind: 'List',
  items: [
    {
      metadata: { name: 'shop', labels: { app: 'shop', 'luma.dev/tier': 'web' } },
      spec: { hostnames: ['shop.localhost', 'www.localhost'], port: 8080 },
      status: { phase: 'Running' },
    },
    { metadata: { name: 'blog' }, spec: { hostnames: ['blog.localhost'] }, status: { phase: 'Idle' } },
  ],
};

const render = (template: string, json: unknown = LIST): string => renderTemplate(parseTemplate(template), json);

describe('-o jsonpath templates', () => {
  it.each([
    ['{.items[*].metadata.name}', 'shop blog'],
    ['{.items[0].spec.hostnames}', '["shop.localhost","www.localhost"]'],
    ['{.items[1].spec.hostnames[0]}', 'blog.localhost'],
    ['{.items[0].spec.port}', '8080'],
    ['{..phase}', 'Running Idle'],
    ['{.items[-1:].metadata.name}', 'blog'],
    ['{.items[?(@.status.phase=="Idle")].metadata.name}', 'blog'],
    ["{.items[0].metadata.labels['luma.dev/tier']}", 'web'],
    ['{.items[0].metadata.labels.luma\\.dev/tier}', 'web'],
    ['names: {.items[*].metadata.name}!', 'names: shop blog!'],
    ['{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}', 'shop\tRunning\nblog\tIdle\n'],
    ["{range .items[*]}{.metadata.name}{','}{end}", 'shop,blog,'],
    ['{range .items[*]}[{range .spec.hostnames[*]}{@} {end}]{end}', '[shop.localhost www.localhost ][blog.localhost ]'],
    ['{.items[0].nothing}', ''],
    ['{$.kind}', 'List'],
    ['{@.kind}', 'List'],
  ])('%s', (template, expected) => {
    expect(render(template)).toBe(expected);
  });

  it('takes a template with no braces as literal text, as kubectl does', () => {
    expect(render('.metadata.name')).toBe('.metadata.name');
  });

  it.each([
    ['{.items[*].metadata.name', 'unclosed "{"'],
    ['{range .items[*]}{.metadata.name}', 'without its {end}'],
    ['{.kind}{end}', '{end} without a {range'],
    ['{}', 'an empty {}'],
    ['{"unterminated}', 'unclosed'],
  ])('refuses %s, saying why', (template, reason) => {
    expect(() => parseTemplate(template)).toThrow(TemplateError);
    expect(() => parseTemplate(template)).toThrow(reason);
  });

  it('turns kubectl paths into jsonpath-plus paths', () => {
    expect(toJsonPath('.a.b')).toBe('$.a.b');
    expect(toJsonPath('@')).toBe('$');
    expect(toJsonPath('..name')).toBe('$..name');
    expect(toJsonPath('a.b')).toBe('$.a.b');
    expect(toJsonPath('.labels.luma\\.dev/kind')).toBe("$.labels['luma.dev/kind']");
  });
});
