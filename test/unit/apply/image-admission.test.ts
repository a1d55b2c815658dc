import { describe, expect, it } from 'vitest';
import { builtImageRepository, checkImageAllowed, describeImageSource, imageRefusal, sourceOfImage, sourceOfProjectImage } from '../../../src/apply/image-admission.js';
import { API_VERSION, type ImageObject } from '../../../src/model/types.js';

function image(name: string, spec: ImageObject['spec']): ImageObject {
  return { apiVersion: API_VERSION, kind: 'Image', metadata: { name }, spec };
}

describe('checkImageAllowed', () => {
  it('allows everything without an allowlist, naming no rule', () => {
    expect(checkImageAllowed('anything:1', undefined)).toEqual({ allowed: true });
  });

  it('names the first pattern that allows the image', () => {
    expect(checkImageAllowed('busybox:1.36', ['registry.example.com/**', 'busybox', 'busybox:*'])).toEqual({ allowed: true, rule: 'busybox' });
  });

  it('names the allowlist that refuses the image', () => {
    expect(checkImageAllowed('evil:1', ['busybox', 'luma/**'])).toEqual({ allowed: false, rule: 'operator setting imageAllowlist [busybox, luma/**]' });
    expect(checkImageAllowed('busybox', [])).toEqual({ allowed: false, rule: 'operator setting imageAllowlist []' });
  });
});

describe('what a project runs, as the allowlist sees it', () => {
  const images = new Map([
    ['pulled', image('pulled', { ref: 'registry.example.com/app:2' })],
    ['built', image('built', { build: { context: './app' } })],
  ]);
  const find = (name: string): ImageObject | undefined => images.get(name);

  it('is the Image it names: what it pulls, or the luma/<instance>/<name> repository it builds into', () => {
    expect(sourceOfProjectImage('pulled', find, 'default')).toEqual({ reference: 'registry.example.com/app:2', via: 'what Image "pulled" pulls' });
    expect(sourceOfProjectImage('built', find, 'ci-3')).toEqual({ reference: 'luma/ci-3/built', via: 'what Image "built" builds' });
    expect(builtImageRepository('ci-3', 'built')).toBe('luma/ci-3/built');
  });

  it('is the reference itself when no Image has that name', () => {
    expect(sourceOfProjectImage('busybox:1.36', find, 'default')).toEqual({ reference: 'busybox:1.36' });
    expect(describeImageSource({ reference: 'busybox:1.36' })).toBe('image "busybox:1.36"');
    expect(describeImageSource(sourceOfImage(images.get('built') as ImageObject, 'default'))).toBe('image "luma/default/built" (what Image "built" builds)');
  });
});

describe('imageRefusal', () => {
  it('is undefined for an allowed image and says why otherwise', () => {
    expect(imageRefusal('busybox', ['busybox'])).toBeUndefined();
    expect(imageRefusal('busybox', undefined)).toBeUndefined();
    expect(imageRefusal('evil', ['busybox'])).toBe('it matches no pattern of the operator setting imageAllowlist [busybox]');
    expect(imageRefusal('evil', [])).toBe('the operator setting imageAllowlist is empty, so no image may run');
  });
});
