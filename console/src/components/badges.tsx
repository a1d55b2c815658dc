import type { ConnectionState } from '../api/feed.js';

// Small labels whose colour repeats what the word says (never colour alone).

const PHASE_TONES: Record<string, string> = {
  Running: 'good',
  Ready: 'good',
  Active: 'good',
  Idle: 'quiet',
  Released: 'quiet',
  Expired: 'quiet',
  Pending: 'busy',
  Starting: 'busy',
  Building: 'busy',
  Failed: 'bad',
};

export function Phase({ phase }: { phase: string | undefined }) {
  const text = phase ?? 'Unknown';
  return <span class={`badge ${PHASE_TONES[text] ?? 'quiet'}`}>{text}</span>;
}

const CONNECTION_WORDS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  'signed-out': 'Signed out',
};

export function Connection({ state, what }: { state: ConnectionState; what: string }) {
  const tone = state === 'live' ? 'good' : state === 'signed-out' ? 'bad' : 'busy';
  return (
    <span class={`badge ${tone}`} role="status" aria-label={`${what}: ${CONNECTION_WORDS[state]}`}>
      {CONNECTION_WORDS[state]}
    </span>
  );
}
