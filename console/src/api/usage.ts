import { useEffect, useState } from 'preact/hooks';
import { API, call } from './http.js';
import type { UsageRecord } from './types.js';

// The usage ledger has no watch stream of its own; it only grows when a lease ends, which
// the lease feed announces, so it is read again whenever that feed changes.

export function useUsage(leaseRevision: number): { records: UsageRecord[]; error?: string } {
  const [answer, setAnswer] = useState<{ records: UsageRecord[]; error?: string }>({ records: [] });
  useEffect(() => {
    let current = true;
    call<{ leases: UsageRecord[] }>('GET', `${API}/usage`)
      .then((usage) => current && setAnswer({ records: usage.leases }))
      .catch((error: unknown) => current && setAnswer({ records: [], error: String(error) }));
    return () => {
      current = false;
    };
  }, [leaseRevision]);
  return answer;
}
