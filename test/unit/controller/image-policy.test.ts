import { describe, expect, it } from 'vitest';
import { imageNotAllowed } from '../../../src/controller/image-policy.js';

describe('imageNotAllowed', () => {
  it('allows everything without an allowlist, and what a pattern matches', () => {
    expect(imageNotAllowed('web', 'web', undefined)).toBeUndefined();
    expect(imageNotAllowed('luma/default/web:abc123', 'web', ['luma/**'])).toBeUndefined();
  });

  it('names the image, where it came from and the rule', () => {
    expect(imageNotAllowed('web', 'web', ['luma/**'])).toBe(
      'image "web" is not allowed (spec.image "web" names no Image object, so it is run as an image reference): it matches no pattern of the operator setting imageAllowlist [luma/**]',
    );
    expect(imageNotAllowed('evil/miner:1', 'web', ['busybox'])).toBe(
      'image "evil/miner:1" is not allowed (spec.image "web" resolves to it): it matches no pattern of the operator setting imageAllowlist [busybox]',
    );
    expect(imageNotAllowed('web', 'web', [])).toMatch(/imageAllowlist is empty, so no image may run$/);
  });
});
