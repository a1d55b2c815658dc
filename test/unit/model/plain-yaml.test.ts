import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPlainYaml } from '../../../src/model/plain-yaml.js';
import { scaleManifests } from '../../../bench/lib/scale-manifests.js';
import { REPO_ROOT } from '../../support/luma.js';
import { yamlReading } from '../../support/yaml-reference.js';

// The fast reader either declines or reads exactly what `yaml` reads. Each row says which
// it must do, so that the subset neither shrinks unnoticed nor grows past what `yaml` agrees with.

/** Reads `text` and checks the answer against `yaml`'s, key order included. */
function read(text: string): ReturnType<typeof readPlainYaml> {
  const answer = readPlainYaml(text);
  if (answer !== undefined) {
    const reference = yamlReading(text);
    expect(answer).toStrictEqual(reference);
    expect(JSON.stringify(answer)).toBe(JSON.stringify(reference));
  }
  return answer;
}

const READ: Array<[string, unknown[]]> = [
  ['', []],
  ['# only a comment\n', []],
  ['---\n', [undefined]],
  ['a: 1\n---\n', [{ a: 1 }, undefined]],
  ['# c\n---\na: 1\n', [{ a: 1 }]],
  ['a: 1\n---\n# c\n---\nb: 1', [{ a: 1 }, undefined, { b: 1 }]],
  ['a: 1\n---', [{ a: 1 }, undefined]],
  ['  a: 1\n  b: 2\n', [{ a: 1, b: 2 }]],
  ['a:\n  b:\n    c: x\n', [{ a: { b: { c: 'x' } } }]],
  ['a:\n- x\n- y\nb: 1\n', [{ a: ['x', 'y'], b: 1 }]],
  ['a:\n  - x\n  -   y\n', [{ a: ['x', 'y'] }]],
  ['a:\n  - name: X\n    value: y\n  - name: Z\n', [{ a: [{ name: 'X', value: 'y' }, { name: 'Z' }] }]],
  ['a:\n  -\n    b: 1\n  -\n', [{ a: [{ b: 1 }, null] }]],
  ['a:\n  - k:\n    - v\n', [{ a: [{ k: ['v'] }] }]],
  ['a:\nb: # c\n', [{ a: null, b: null }]],
  [
    'a: x,y\nb: it\'s\nc: b#c\nd: say "hi"\ne: x!y&z|>%@`\n',
    [{ a: 'x,y', b: "it's", c: 'b#c', d: 'say "hi"', e: 'x!y&z|>%@`' }],
  ],
  ['a: x  y # comment\n', [{ a: 'x  y' }]],
  ['image: registry:5000/app:1.2\nurl: http://h/p?q=1\n', [{ image: 'registry:5000/app:1.2', url: 'http://h/p?q=1' }]],
  ['a: [a, b]\nb: [ ]\nc: [x,y]\n', [{ a: ['a', 'b'], b: [], c: ['x', 'y'] }]],
  ['a: { x: 1, y: 10m }\nb: {}\n', [{ a: { x: 1, y: '10m' }, b: {} }]],
  ['a: " x "\nb: \'y\' # c\n', [{ a: ' x ', b: 'y' }]],
  [
    'a: ~\nb: Null\nc: true\nd: FALSE\ne: 0\nf: 65535\ng: yes\nh: 1_000\n',
    [{ a: null, b: null, c: true, d: false, e: 0, f: 65535, g: 'yes', h: '1_000' }],
  ],
  [
    'a: 10m\nb: 256Mi\nc: 500m\nd: $HOME\ne: /bin/sh\nf: ./app\n',
    [{ a: '10m', b: '256Mi', c: '500m', d: '$HOME', e: '/bin/sh', f: './app' }],
  ],
  ['constructor: 1\ntoString: 2\n', [{ constructor: 1, toString: 2 }]],
];

const DECLINED: string[] = [
  'a:\tb\n',
  'a: b\r\n',
  'a: é\n',
  '\uFEFFa: 1\n',
  '%YAML 1.1\n---\na: yes\n',
  'a: 1\n...\n',
  '--- a: 1\n',
  'a: &x 1\nb: *x\n',
  'a: !!str 1\n',
  'a: |\n  x\n',
  'a: >-\n  x\n',
  'a: "x\\ty"\n',
  "a: 'it''s'\n",
  'a: b\n  c\n',
  'a: b\n\n  c\n',
  'a: 1\na: 2\n',
  'a: { x: 1, x: 2 }\n',
  'null: 1\n',
  'True: 1\n',
  '__proto__: 1\n',
  '1: x\n',
  '"a": 1\n',
  '? a\n: 1\n',
  'a: b: c\n',
  'a:b\n',
  'a: -1\n',
  'a: 01\n',
  'a: 1.5\n',
  'a: 1.10\n',
  'a: 1e3\n',
  'a: 0x1f\n',
  'a: 0o7\n',
  'a: .inf\n',
  'a: 1234567890123456\n',
  'a: [a, ]\n',
  'a: [a, [b]]\n',
  'a: [a\n  , b]\n',
  'a: {x:1}\n',
  'a: { x }\n',
  'a: [~]\n',
  '- a\n- b\n',
  'just a word\n',
  '{"a": 1}\n',
  'a:\n  b: 1\n c: 2\n',
  'a:\n  - x\n  y: 1\n',
  'a: 1\n- x\n',
  'a:\n  - - x\n',
  '- a: 1\n',
  'a: x: y\n',
  // Inside quotes ` #` is no comment; the reader does not look inside quotes for it.
  'a: "q # not a comment"\n',
];

describe('readPlainYaml', () => {
  it.each(READ)('reads %j as yaml does', (text, expected) => {
    expect(read(text)).toStrictEqual(expected);
  });

  it.each(DECLINED)('declines %j', (text) => {
    expect(read(text)).toBeUndefined();
  });

  it('reads the text bench/scale applies', () => {
    const text = scaleManifests(20);
    expect(read(text)).toHaveLength(20);
  });

  it('reads the examples in manifests/ as yaml does, or declines them', async () => {
    const examples = path.join(REPO_ROOT, 'manifests');
    const files = (await readdir(examples, { recursive: true })).filter((file) => /\.ya?ml$/.test(file));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) read(await readFile(path.join(examples, file), 'utf8'));
  });
});
