import { API_VERSION, type ObjectMeta, type SecretEntry, type SecretObject } from './types.js';

// A Secret is written as in Kubernetes, with top-level `type`, `data` (base64) and
// `stringData` (text); Luma keeps it as every other kind, under `spec`, with each value
// in base64 until it is sealed (src/secrets/seal.ts). A key in both takes stringData's
// value, as in Kubernetes.

/** A Secret manifest that secret.schema.json has accepted. */
export interface SecretManifest {
  apiVersion: typeof API_VERSION;
  kind: 'Secret';
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export const DEFAULT_SECRET_TYPE = 'Opaque';

export function secretFromManifest(manifest: SecretManifest): SecretObject {
  const data: Record<string, SecretEntry> = {};
  for (const [key, value] of Object.entries(manifest.data ?? {})) data[key] = { plain: value };
  for (const [key, value] of Object.entries(manifest.stringData ?? {}))
    data[key] = { plain: Buffer.from(value, 'utf8').toString('base64') };
  return {
    apiVersion: API_VERSION,
    kind: 'Secret',
    metadata: manifest.metadata,
    spec: { type: manifest.type ?? DEFAULT_SECRET_TYPE, data },
  };
}
