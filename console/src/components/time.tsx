import { useNow } from '../api/hooks.js';
import { ago, duration } from '../format.js';

// Times that tick: each re-renders itself every second, so a page left open stays true.

export function RelativeTime({ iso }: { iso: string | undefined }) {
  const now = useNow();
  return iso ? (
    <time dateTime={iso} title={iso}>
      {ago(iso, now)}
    </time>
  ) : (
    <span>—</span>
  );
}

export function Countdown({ until, label }: { until: string | undefined; label: string }) {
  const now = useNow();
  if (!until) return <span>—</span>;
  const left = (Date.parse(until) - now) / 1000;
  return (
    <time class="countdown" dateTime={until} title={until} aria-label={`${label}: ${duration(left)} left`}>
      {left > 0 ? duration(left) : 'expiring'}
    </time>
  );
}
