// The X-Forwarded-* values the proxy sends upstream, decided in one place for both
// forwarding paths. At the edge the proxy itself knows who called and how: clients
// cannot spoof these, unless the service trusts a proxy in front (--forward-headers).

export interface ForwardedValues {
  for: string;
  proto: string;
  host: string | undefined;
}

export interface ForwardedInputs {
  /** The client's address, as the socket reports it. */
  clientAddress: string | undefined;
  /** Whether the client reached the proxy over TLS. */
  encrypted: boolean;
  /** The request's Host header. */
  host: string | undefined;
  /** What the client sent as X-Forwarded-For/-Proto/-Host (used only when trusted). */
  priorFor: string | undefined;
  priorProto: string | undefined;
  priorHost: string | undefined;
  trustForwardedHeaders: boolean;
}

export function forwardedValues(inputs: ForwardedInputs): ForwardedValues {
  const clientAddress = inputs.clientAddress ?? '';
  const scheme = inputs.encrypted ? 'https' : 'http';
  if (!inputs.trustForwardedHeaders) return { for: clientAddress, proto: scheme, host: inputs.host };
  return {
    for: inputs.priorFor ? `${inputs.priorFor}, ${clientAddress}` : clientAddress,
    proto: inputs.priorProto ?? scheme,
    host: inputs.priorHost ?? inputs.host,
  };
}

/** The names of the headers the proxy sets itself on every forwarded request. */
const SET_BY_THE_PROXY: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

/**
 * A lower-cased header name that spells one the proxy sets with underscores
 * (`x_forwarded_for`, `x-forwarded_for`...). CGI, WSGI and Rack turn both spellings into
 * the same HTTP_X_FORWARDED_FOR, so a client could pass a forged address to apps behind
 * them; such headers are dropped on both paths, as nginx drops names with underscores.
 */
export function spellsAProxyHeader(lowerName: string): boolean {
  return lowerName.includes('_') && SET_BY_THE_PROXY.has(lowerName.replaceAll('_', '-'));
}
