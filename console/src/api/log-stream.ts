import { API, reportSignedOut } from './http.js';

// A followed log (`GET …/log?follow=true` as server-sent events). After a drop it
// reconnects asking only for lines since the last one it got, and skips any of those it
// already has, so that a reconnect neither loses nor repeats a line.

export interface LogLine {
  instance: string;
  stream: string;
  time: string;
  line: string;
}

export type LogState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'signed-out';

export interface LogHandlers {
  lines(lines: LogLine[]): void;
  state(state: LogState, detail?: string): void;
}

const TAIL = 500;
const RETRY_MS = 1_000;

export function followLog(kind: 'projects' | 'leases', name: string, handlers: LogHandlers): () => void {
  let source: EventSource | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastTime = '';
  let seenAtLast = new Set<string>();
  let stopped = false;

  const fresh = (line: LogLine): boolean => {
    if (line.time < lastTime) return false;
    const key = `${line.instance}\0${line.stream}\0${line.line}`;
    if (line.time === lastTime) {
      if (seenAtLast.has(key)) return false;
    } else {
      lastTime = line.time;
      seenAtLast = new Set();
    }
    seenAtLast.add(key);
    return true;
  };

  const open = (): void => {
    const query = lastTime ? `since=${encodeURIComponent(lastTime)}` : `tail=${TAIL}`;
    source = new EventSource(`${API}/${kind}/${encodeURIComponent(name)}/log?follow=true&${query}`, {
      withCredentials: true,
    });
    source.onopen = () => handlers.state('live');
    source.onmessage = (message: MessageEvent<string>) => {
      const line = JSON.parse(message.data) as LogLine;
      if (fresh(line)) handlers.lines([line]);
    };
    source.addEventListener('end', (message) => {
      source?.close();
      const end = JSON.parse((message as MessageEvent<string>).data) as { message: string };
      handlers.state('ended', end.message);
    });
    source.onerror = () => void dropped();
  };

  const dropped = async (): Promise<void> => {
    source?.close();
    if (stopped) return;
    handlers.state('reconnecting');
    const probe = await fetch(`${API}/${kind}/${encodeURIComponent(name)}`, { credentials: 'same-origin' }).catch(
      () => undefined,
    );
    if (probe?.status === 401) {
      handlers.state('signed-out');
      reportSignedOut();
      return;
    }
    if (probe?.status === 404) return handlers.state('ended', `${kind.slice(0, -1)} ${name} is gone`);
    timer = setTimeout(open, RETRY_MS);
  };

  handlers.state('connecting');
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };
}
