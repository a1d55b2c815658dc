import { useEffect, useState } from 'preact/hooks';
import { API, call } from './http.js';
import type { MetricsSummary } from './types.js';

// Cold starts and requests per project (GET /metrics/projects, what `luma metrics` shows).
// Counters have no watch stream: the summary is read again whenever the project or event
// feed changes (a cold start ends in a status write and events, both pushed), and every
// REQUESTS_REFRESH_MS for request counts, which change with no object changing.

const REQUESTS_REFRESH_MS = 10_000;

export function useMetrics(trigger: number, project?: string): { summary?: MetricsSummary; error?: string } {
  const [answer, setAnswer] = useState<{ summary?: MetricsSummary; error?: string }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), REQUESTS_REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    let current = true;
    const query = project === undefined ? '' : `?project=${encodeURIComponent(project)}`;
    call<MetricsSummary>('GET', `${API}/metrics/projects${query}`)
      .then((summary) => current && setAnswer({ summary }))
      .catch((error: unknown) => current && setAnswer({ error: String(error) }));
    return () => {
      current = false;
    };
  }, [trigger, tick, project]);
  return answer;
}
