import { Webhook } from 'standardwebhooks';

// Standard Webhooks signing (standardwebhooks.com): every delivery carries webhook-id (the
// CloudEvent's id, the same on every retry so a receiver can drop duplicates),
// webhook-timestamp (seconds, this attempt's) and webhook-signature (`v1,` and the base64
// HMAC-SHA256 of `id.timestamp.body` under the operator's `whsec_…` secret). The stock
// `standardwebhooks` library signs here, so what we send is what receivers' copies of it
// verify.

/** Below this a secret is guessable; the convention asks for 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;

/** Why `secret` cannot sign, or undefined when it can. */
export function webhookSecretProblem(secret: string): string | undefined {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!match?.[1]) return 'expected whsec_ followed by base64 (for example: echo "whsec_$(openssl rand -base64 32)")';
  const bytes = Buffer.from(match[1], 'base64').length;
  if (bytes < MIN_SECRET_BYTES) return `the key is ${bytes} bytes; at least ${MIN_SECRET_BYTES} are needed`;
  return undefined;
}

export type WebhookSigner = (id: string, body: string, at: Date) => Record<string, string>;

/** Headers that sign one delivery attempt of `body`. */
export function webhookSigner(secret: string): WebhookSigner {
  const webhook = new Webhook(secret);
  return (id, body, at) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': webhook.sign(id, at, body),
  });
}
