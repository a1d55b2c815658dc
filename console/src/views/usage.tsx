import { feeds } from '../api/feeds.js';
import { useFeed } from '../api/hooks.js';
import { useUsage } from '../api/usage.js';
import type { UsageRecord } from '../api/types.js';
import { day, duration, money } from '../format.js';

// The usage ledger by day: each project's leases, runtime and cost, and the day's total.
// Amounts in different currencies are never added (the ledger keeps a currency per record).

interface Row {
  day: string;
  project: string;
  currency: string;
  leases: number;
  runtimeSeconds: number;
  cost: number;
}

export function groupByDay(records: UsageRecord[]): Row[] {
  const rows = new Map<string, Row>();
  for (const record of records) {
    for (const project of [record.project, '']) {
      const key = [day(record.endedAt), project, record.currency].join('\0');
      const row = rows.get(key) ?? {
        day: day(record.endedAt),
        project,
        currency: record.currency,
        leases: 0,
        runtimeSeconds: 0,
        cost: 0,
      };
      row.leases += 1;
      row.runtimeSeconds += record.runtimeSeconds;
      row.cost += record.cost;
      rows.set(key, row);
    }
  }
  // Newest day first; within a day, projects by name and the total (empty name) last.
  return [...rows.values()].sort(
    (a, b) =>
      b.day.localeCompare(a.day) || (a.project === '' ? 1 : b.project === '' ? -1 : a.project.localeCompare(b.project)),
  );
}

export function UsageView() {
  const leases = useFeed(feeds.leases);
  const usage = useUsage(leases.revision);
  const rows = groupByDay(usage.records);
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      {usage.error && <p class="error">{usage.error}</p>}
      {rows.length === 0 ? (
        <p class="muted">No lease has ended yet: the ledger is empty.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Project</th>
                <th scope="col">Leases</th>
                <th scope="col">Runtime</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={`${row.day}-${row.project}-${row.currency}`} class={row.project === '' ? 'total-row' : ''}>
                  <td>{row.day}</td>
                  <td>{row.project || 'Total'}</td>
                  <td>{row.leases}</td>
                  <td>{duration(row.runtimeSeconds)}</td>
                  <td>{money(row.cost, row.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
