import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

// Secret values at rest: AES-256-GCM (node:crypto), a fresh 96-bit nonce per value, and
// the secret's name and key as associated data, so that a sealed value copied onto another
// key or secret does not open. The digest shown in place of a value is an HMAC-SHA-256
// keyed by a key derived from the installation's secret key, of the value and its slot: it
// tells two values apart and says when one changed, but cannot be looked up in a dictionary of common passwords
// without the installation's key.

/** What a sealed value starts with: the format's version, so that it can change later. */
const SEALED_PREFIX = 'v1:';
export const SECRET_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Hex characters of the digest shown: 64 bits, enough to tell values apart at a glance. */
const DIGEST_HEX_LENGTH = 16;
export const DIGEST_PREFIX = 'hmac-sha256:';

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/** Where a value belongs: bound into its sealed form, so it opens only there. */
export interface SecretSlot {
  secret: string;
  key: string;
}

export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly digestKey: Buffer;

  constructor(key: Buffer) {
    if (key.length !== SECRET_KEY_BYTES)
      throw new SecretBoxError(`a secret key must be ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
    // Two keys from one, so that the digest never reveals anything about the encryption key.
    this.encryptionKey = derive(key, 'luma secret encryption');
    this.digestKey = derive(key, 'luma secret digest');
  }

  /**
   * `hmac-sha256:` and 16 hex characters of the slot and the value: equal values under
   * different secrets or keys have different digests, so a digest shown for one key does
   * not tell that another holds the same password.
   */
  digest(value: Buffer, slot: SecretSlot): string {
    // The slot as JSON (its end is unambiguous), then the value.
    const hmac = createHmac('sha256', this.digestKey).update(associatedData(slot)).update(value);
    return DIGEST_PREFIX + hmac.digest('hex').slice(0, DIGEST_HEX_LENGTH);
  }

  seal(value: Buffer, slot: SecretSlot): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, nonce);
    cipher.setAAD(associatedData(slot));
    const body = Buffer.concat([cipher.update(value), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${nonce.toString('base64')}:${body.toString('base64')}`;
  }

  /** Throws SecretBoxError when the value was sealed with another key, for another slot, or altered. */
  open(sealed: string, slot: SecretSlot): Buffer {
    const [nonce, body] = sealed.startsWith(SEALED_PREFIX) ? sealed.slice(SEALED_PREFIX.length).split(':') : [];
    const nonceBytes = Buffer.from(nonce ?? '', 'base64');
    const bodyBytes = Buffer.from(body ?? '', 'base64');
    if (nonceBytes.length !== NONCE_BYTES || bodyBytes.length < TAG_BYTES)
      throw new SecretBoxError(`the stored value of ${slotName(slot)} is not in a known sealed format`);
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, nonceBytes);
    decipher.setAAD(associatedData(slot));
    decipher.setAuthTag(bodyBytes.subarray(bodyBytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bodyBytes.subarray(0, bodyBytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError(
        `the stored value of ${slotName(slot)} does not open with this secret key (another key, or altered)`,
      );
    }
  }
}

function derive(key: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), purpose, SECRET_KEY_BYTES));
}

function associatedData(slot: SecretSlot): Buffer {
  return Buffer.from(JSON.stringify([slot.secret, slot.key]));
}

function slotName(slot: SecretSlot): string {
  return `secret "${slot.secret}" key "${slot.key}"`;
}
