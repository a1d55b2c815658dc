import { describe, expect, it } from 'vitest';
import {
  builtImageRepository,
  checkImageAllowed,
  describeImageSource,
  imageRefusal,
  sourceOfImage,
  sourceOfProjectImage,
} from '../../../src/apply/image-admission.js';
import { API_VERSION, type ImageObject } from '../../../src/model/types.js';

function image(name: string, spec: ImageObject['spec']): ImageObject {
  return { apiVersion: API_VERSION, kind: 'Image', metadata: { name }, spec };
}

describe('checkImageAllowed', () => {
  it('allows everything without an allowlist, naming no rule', () => {
    expect(checkImageAllowed('anything:1', undefined)).toEqual({ allowed: true });
  });

  it('names the first pattern that allows the image', () => {
    expect(checkImageAllowed('busybox:1.36', ['registry.example.com/**', 'busybox', 'busybox:*'])).toEqual({
      allowed: true,
      rule: 'busybox',
    });
  });

  it('names the allowlist that refuses the image', () => {
    expect(checkImageAllowed('evil:1', ['busybox', 'luma/**'])).toEqual({
      allowed: false,
      rule: 'operator setting imageAllowlist [busybox, luma/**]',
    });
    expect(checkImageAllowed('busybox', [])).toEqual({ allowed: false, rule: 'operator setting imageAllowlist []' });
  });
});

describe('references Docker may read as an image ID', () => {
  // `docker create e5276c38` runs the local image whose ID starts so when no repository has
  // that name, and `sha256:<id>` runs that image: the allowlist would judge a name Docker
  // never uses. `*` (any single-segment name, as official images are written) matched both.
  it('refuses them whatever pattern would match their text, and says how to name the image', () => {
    for (const reference of [
      'e5276c3831d8',
      'e5276c3831d80aafe4fe6d8d3830be931674665571c109e5a0a4e643645b4bfc',
      'sha256:e5276c3831d80aafe4fe6d8d3830be931674665571c109e5a0a4e643645b4bfc',
      'cafe',
    ]) {
      expect(checkImageAllowed(reference, ['*', '**']).allowed, reference).toBe(false);
      expect(imageRefusal(reference, ['*'])).toMatch(/ID of a local image.*its repository and a tag/);
    }
  });

  it('allows the same names with a tag, and anything without an allowlist', () => {
    expect(checkImageAllowed('cafe:latest', ['*']).allowed).toBe(true);
    expect(checkImageAllowed('team/cafe', ['team/*']).allowed).toBe(true);
    expect(checkImageAllowed('e5276c3831d8', undefined).allowed).toBe(true);
  });
});

describe('what a project runs, as the allowlist sees it', () => {
  const images = new Map([
    ['pulled', image('pulled', { ref: 'registry.example.com/app:2' })],
    ['built', image('built', { build: { context: './app' } })],
  ]);
  const find = (name: string): ImageObject | undefined => images.get(name);

  it('is the Image it names: what it pulls, or the luma/<instance>/<name> repository it builds into', () => {
    expect(sourceOfProjectImage('pulled', find, 'default')).toEqual({
      reference: 'registry.example.com/app:2',
      via: 'what Image "pulled" pulls',
    });
    expect(sourceOfProjectImage('built', find, 'ci-3')).toEqual({
      reference: 'luma/ci-3/built',
      via: 'what Image "built" builds',
    });
    expect(builtImageRepository('ci-3', 'built')).toBe('luma/ci-3/built');
  });

  it('is the reference itself when no Image has that name', () => {
    expect(sourceOfProjectImage('busybox:1.36', find, 'default')).toEqual({ reference: 'busybox:1.36' });
    expect(describeImageSource({ reference: 'busybox:1.36' })).toBe('image "busybox:1.36"');
    expect(describeImageSource(sourceOfImage(images.get('built') as ImageObject, 'default'))).toBe(
      'image "luma/default/built" (what Image "built" builds)',
    );
  });
});

describe('imageRefusal', () => {
  it('is undefined for an allowed image and says why otherwise', () => {
    expect(imageRefusal('busybox', ['busybox'])).toBeUndefined();
    expect(imageRefusal('busybox', undefined)).toBeUndefined();
    expect(imageRefusal('evil', ['busybox'])).toBe(
      'it matches no pattern of the operator setting imageAllowlist [busybox]',
    );
    expect(imageRefusal('evil', [])).toBe('the operator setting imageAllowlist is empty, so no image may run');
  });
});
