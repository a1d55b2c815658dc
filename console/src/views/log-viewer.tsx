import { useEffect, useRef, useState } from 'preact/hooks';
import { followLog, type LogLine, type LogState } from '../api/log-stream.js';

// A live log: follow (keep the newest line in view), pause (hold new lines back without
// losing them), search (show only matching lines), download (what has arrived, as text),
// and the stream's connection state.

const MAX_LINES = 5_000;

const STATE_WORDS: Record<LogState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Ended',
  'signed-out': 'Signed out',
};

export function LogViewer({ kind, name }: { kind: 'projects' | 'leases'; name: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [held, setHeld] = useState<LogLine[]>([]);
  const [state, setState] = useState<{ state: LogState; detail?: string }>({ state: 'connecting' });
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    setLines([]);
    setHeld([]);
    return followLog(kind, name, {
      lines: (arrived) => (pausedRef.current ? setHeld : setLines)((old) => [...old, ...arrived].slice(-MAX_LINES)),
      state: (next, detail) => setState(detail === undefined ? { state: next } : { state: next, detail }),
    });
  }, [kind, name]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  });

  const resume = (): void => {
    setLines((old) => [...old, ...held].slice(-MAX_LINES));
    setHeld([]);
    setPaused(false);
  };
  const needle = search.trim().toLowerCase();
  const shown = needle ? lines.filter((line) => line.line.toLowerCase().includes(needle)) : lines;
  return (
    <div class="log-viewer">
      <div class="toolbar" role="toolbar" aria-label="Log controls">
        <span
          class={`badge ${state.state === 'live' ? 'good' : state.state === 'ended' ? 'quiet' : 'busy'}`}
          role="status"
        >
          Log: {STATE_WORDS[state.state]}
          {state.detail ? ` (${state.detail})` : ''}
        </span>
        <button type="button" aria-pressed={paused} onClick={() => (paused ? resume() : setPaused(true))}>
          {paused ? `Resume (${held.length} new)` : 'Pause'}
        </button>
        <label class="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
        <label class="inline">
          Search log
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <button type="button" onClick={() => download(name, lines)} disabled={lines.length === 0}>
          Download
        </button>
      </div>
      <pre class="log" ref={box} tabIndex={0} aria-label={`Log of ${name}`} aria-live="off">
        {shown.length === 0 ? (
          <span class="muted">{needle ? 'No line matches.' : 'No lines yet.'}</span>
        ) : (
          shown.map((line, index) => (
            <div key={index} class={line.stream === 'stderr' ? 'stderr' : ''}>
              <span class="muted">
                [{line.instance}] {line.time.slice(11, 23)}{' '}
              </span>
              {line.line}
            </div>
          ))
        )}
      </pre>
    </div>
  );
}

function download(name: string, lines: LogLine[]): void {
  const text = lines.map((line) => `[${line.instance}] ${line.time} ${line.line}\n`).join('');
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `${name}.log`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}
