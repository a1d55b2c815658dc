import { constants } from 'node:crypto';
import tls from 'node:tls';

// Which cipher suite a handshake settles on: the server's order, AES-128-GCM with SHA-256
// first, as Go's crypto/tls (Caddy) and BoringSSL choose on machines with AES instructions.
//
// Node's default list (tls.DEFAULT_CIPHERS) starts with TLS_AES_256_GCM_SHA384 and lets the
// client's order decide, and every common client offers it first: the whole TLS 1.3 key
// schedule then runs HMAC-SHA-384, on both ends, for every new connection. Measured on the
// benchmark machine (issue 18), that made a new connection cost the client and the proxy
// more than Caddy's, which picks AES-128. AES-128-GCM is not weaker in any practical sense
// (NIST and the IETF treat both as secure for TLS).
//
// A client that puts ChaCha20-Poly1305 first (one without AES instructions, where AES is
// slow) still gets it: OpenSSL's "prioritize ChaCha" option moves it to the top of the
// server's order for that client only.

const PREFERRED = 'TLS_AES_128_GCM_SHA256';

/** The cipher list: Node's defaults, with AES-128-GCM-SHA256 moved to the front. */
export const CIPHERS = [PREFERRED, ...tls.DEFAULT_CIPHERS.split(':').filter((name) => name !== PREFERRED)].join(':');

/** The server's order decides, except for clients that prefer ChaCha20-Poly1305. */
export const CIPHER_OPTIONS = {
  ciphers: CIPHERS,
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_PRIORITIZE_CHACHA,
} as const;
