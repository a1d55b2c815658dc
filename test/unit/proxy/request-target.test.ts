import { describe, expect, it } from 'vitest';
import { resolveOriginForm, resolveRequestTarget } from '../../../src/proxy/request-target.js';

// RFC 9112 §3.2: one valid Host, or an absolute-form target's authority; otherwise 400.

const target = (url: string, ...hosts: string[]): ReturnType<typeof resolveRequestTarget> =>
  resolveRequestTarget({ url, rawHeaders: hosts.flatMap((host) => ['Host', host]) });

describe('resolveRequestTarget', () => {
  it.each([
    ['/', 'app.localhost', 'app.localhost'],
    ['/x?y=1', 'APP.localhost:8080', 'app.localhost'],
    ['/', '[::1]:80', '[::1]'],
    ['/', 'app.localhost.', 'app.localhost'],
    ['*', 'app.localhost', 'app.localhost'],
  ])('%s with Host %s routes to %s', (url, host, expected) => {
    expect(target(url, host)).toMatchObject({ ok: true, host: expected, path: url, absolute: false });
  });

  it.each([
    ['no Host', target('/'), true],
    ['an empty Host', target('/', ' '), true],
    ['two Host headers', target('/', 'a.localhost', 'b.localhost'), false],
    ['a space', target('/', 'a b.localhost'), false],
    ['a path', target('/', 'a.localhost/x'), false],
    ['userinfo', target('/', 'u@a.localhost'), false],
    ['a port with letters', target('/', 'a.localhost:80x'), false],
    ['a port above 65535', target('/', 'a.localhost:70000'), false],
    ['an authority-form target', target('a.localhost:443', 'a.localhost'), false],
    ['an ftp target', target('ftp://a.localhost/', 'a.localhost'), false],
    ['an absolute target with userinfo', target('http://u@a.localhost/', 'a.localhost'), false],
  ])('refuses %s', (_what, result, missingHost) => {
    expect(result.ok).toBe(false);
    expect(!result.ok && (result.missingHost ?? false)).toBe(missingHost);
  });

  it('routes an absolute-form target by its authority, ignoring Host, with an origin-form path', () => {
    expect(target('http://Other.localhost:8080/p?q=1', 'app.localhost')).toEqual({
      ok: true,
      host: 'other.localhost',
      authority: 'Other.localhost:8080',
      path: '/p?q=1',
      absolute: true,
    });
    expect(target('HTTPS://other.localhost?q', 'app.localhost')).toMatchObject({
      ok: true,
      host: 'other.localhost',
      path: '/?q',
    });
    expect(target('http://other.localhost')).toMatchObject({ ok: true, path: '/' });
  });
});

describe('resolveOriginForm (the fast path: an origin-form target and one Host)', () => {
  it('answers as resolveRequestTarget does, the first time a Host value is seen and every time after', () => {
    const hosts = [
      'app.localhost',
      'APP.localhost:8080',
      '[::1]:80',
      'app.localhost.',
      ' ',
      '',
      'a b.localhost',
      'a.localhost/x',
      'u@a.localhost',
      'a.localhost:80x',
      'a.localhost:70000',
      '.',
    ];
    for (const round of [1, 2]) {
      for (const host of hosts) {
        for (const path of ['/', `/round-${round}?q=${host}`])
          expect(resolveOriginForm(path, host)).toEqual(target(path, host));
      }
    }
  });
});
