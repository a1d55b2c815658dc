import { useEffect, useState } from 'preact/hooks';
import { feeds } from '../api/feeds.js';
import { API } from '../api/http.js';
import { useFeed } from '../api/hooks.js';
import { Connection, Phase } from '../components/badges.js';
import { RelativeTime } from '../components/time.js';

// An image: its build status, and the build log — followed while the build runs, the
// stored one after (the API answers both on one path).

export function ImageView({ name }: { name: string }) {
  const images = useFeed(feeds.images);
  const image = images.get(name);
  const phase = image?.status?.phase;
  const log = useBuildLog(name, phase === 'Building', image?.metadata.resourceVersion);
  if (!image) {
    return (
      <section>
        <h1>Image {name}</h1>
        <p class="muted">{images.state === 'live' ? 'There is no such image.' : 'Loading…'}</p>
      </section>
    );
  }
  const ready = image.status?.conditions?.find((condition) => condition.type === 'Ready');
  return (
    <section aria-labelledby="image-title">
      <h1 id="image-title">
        Image {name} <Phase phase={phase} /> <Connection state={images.state} what="Image" />
      </h1>
      <dl class="facts">
        <dt>Runs as</dt>
        <dd class="mono wrap">{image.status?.image ?? image.spec.ref ?? '—'}</dd>
        <dt>Build took</dt>
        <dd>
          {image.status?.buildDurationSeconds !== undefined ? `${image.status.buildDurationSeconds.toFixed(1)} s` : '—'}
        </dd>
        <dt>Status</dt>
        <dd class="wrap">
          {ready ? `${ready.reason}: ${ready.message} ` : '—'}
          {ready && <RelativeTime iso={ready.lastTransitionTime} />}
        </dd>
      </dl>
      <h2>Build log {phase === 'Building' && <span class="badge busy">following</span>}</h2>
      <pre class="log" tabIndex={0} aria-label={`Build log of ${name}`}>
        {log || <span class="muted">No build output.</span>}
      </pre>
    </section>
  );
}

/** The log as text; while building, streamed as it comes (a chunked plain-text answer). */
function useBuildLog(name: string, building: boolean, version: string | undefined): string {
  const [text, setText] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      const response = await fetch(`${API}/images/${encodeURIComponent(name)}/log${building ? '?follow=true' : ''}`, {
        credentials: 'same-origin',
        signal: abort.signal,
      });
      if (!response.ok || !response.body) return;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let all = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        all += value;
        setText(all);
      }
      setText(all);
    })().catch(() => undefined);
    return () => abort.abort();
  }, [name, building, building ? undefined : version]);
  return text;
}
