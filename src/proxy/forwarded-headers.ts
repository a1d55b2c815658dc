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
