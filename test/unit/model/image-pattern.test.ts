import { describe, expect, it } from 'vitest';
import { imagePatternProblem, matchesImagePattern, repositoryOf } from '../../../src/model/image-pattern.js';

describe('matchesImagePattern', () => {
  it.each([
    // exact, and a pattern without a tag allows every tag and digest of what it names
    ['busybox', 'busybox', true],
    ['busybox', 'busybox:1.36', true],
    ['busybox', 'busybox@sha256:' + 'a'.repeat(64), true],
    ['busybox', 'busybox-evil', false],
    ['busybox', 'evil/busybox', false],
    // a tag in the pattern allows that tag only
    ['busybox:1.36', 'busybox:1.36', true],
    ['busybox:1.36', 'busybox:1.37', false],
    ['busybox:1.36', 'busybox', false],
    ['busybox:*', 'busybox:latest', true],
    // * stays within a path segment
    ['registry.example.com/team/*', 'registry.example.com/team/app', true],
    ['registry.example.com/team/*', 'registry.example.com/team/app:1.2', true],
    ['registry.example.com/team/*', 'registry.example.com/team/sub/app', false],
    ['registry.example.com/*/app', 'registry.example.com/team/app', true],
    ['team-*', 'team-web', true],
    ['team-*', 'team-web/evil', false],
    // ** crosses segments
    ['registry.example.com/**', 'registry.example.com/team/sub/app:1', true],
    ['registry.example.com/**', 'registry.example.com.evil.io/app', false],
    ['luma/**', 'luma/default/hello', true],
    ['**', 'anything/at/all:1', true],
    // dots are literal, not "any character"
    ['registry.example.com/app', 'registryXexampleYcom/app', false],
    // a registry port is not a tag
    ['localhost:5000/*', 'localhost:5000/app:1', true],
    ['localhost:5000/app', 'localhost:5000/app:1', true],
    ['localhost/app', 'localhost:5000/app', false],
    // no normalisation: spellings Docker treats as the same are different here
    ['busybox', 'docker.io/library/busybox', false],
  ])('%s against %s → %s', (pattern, reference, expected) => {
    expect(matchesImagePattern(pattern, reference)).toBe(expected);
  });
});

describe('repositoryOf', () => {
  it.each([
    ['busybox', 'busybox'],
    ['busybox:1.36', 'busybox'],
    ['localhost:5000/team/app:2', 'localhost:5000/team/app'],
    ['localhost:5000/team/app', 'localhost:5000/team/app'],
    [`app@sha256:${'b'.repeat(64)}`, 'app'],
    [`app:1@sha256:${'b'.repeat(64)}`, 'app'],
  ])('%s → %s', (reference, expected) => {
    expect(repositoryOf(reference)).toBe(expected);
  });
});

describe('imagePatternProblem', () => {
  it.each([
    'busybox',
    'registry.example.com/**',
    'luma/*/web',
    'localhost:5000/app:1.2',
    `app@sha256:${'c'.repeat(64)}`,
    '**',
  ])('accepts %s', (pattern) => {
    expect(imagePatternProblem(pattern)).toBeUndefined();
  });

  it.each([
    ['', 'empty string'],
    ['bad pattern', 'made of the characters of an image reference'],
    ['app?', 'made of the characters'],
    ['a/***', 'three stars'],
  ])('refuses %j', (pattern, detail) => {
    expect(imagePatternProblem(pattern)).toContain(detail);
  });
});
