import { describe, expect, it } from 'vitest';
import { matchesSelector, parseLabelSelector, SelectorError } from '../../../src/model/label-selector.js';

const web = { app: 'web', tier: 'front', 'luma.dev/team': 'a' };
const api = { app: 'api', tier: 'back' };
const bare = {};

function selects(selector: string): string[] {
  const parsed = parseLabelSelector(selector);
  return Object.entries({ web, api, bare })
    .filter(([, labels]) => matchesSelector(parsed, labels))
    .map(([name]) => name);
}

describe('label selectors', () => {
  it.each([
    ['', ['web', 'api', 'bare']],
    ['app=web', ['web']],
    ['app==web', ['web']],
    ['app = web', ['web']],
    ['app!=web', ['api', 'bare']],
    ['tier', ['web', 'api']],
    ['!tier', ['bare']],
    ['app in (web, api)', ['web', 'api']],
    ['app notin (web)', ['api', 'bare']],
    ['tier,app!=api', ['web']],
    ['app in (web,api),tier=back', ['api']],
    ['luma.dev/team=a', ['web']],
  ])('%s selects %j', (selector, expected) => {
    expect(selects(selector)).toEqual(expected);
  });

  it.each([
    ['app=web,', /empty requirement/],
    ['app in ()', /list of values/],
    ['app in (a,,b)', /list of values/],
    ['a b', /not a requirement/],
    ['app=we b', /not a label value/],
    ['-app', /not a label key/],
    ['!', /not a label key/],
  ])('refuses %j naming what is wrong', (selector, message) => {
    expect(() => parseLabelSelector(selector)).toThrow(SelectorError);
    expect(() => parseLabelSelector(selector)).toThrow(message);
    expect(() => parseLabelSelector(selector)).toThrow(`"${selector}"`);
  });
});
