import { useState } from 'preact/hooks';
import { feeds } from '../api/feeds.js';
import { API, call } from '../api/http.js';
import { useFeed } from '../api/hooks.js';
import { deleteObject } from '../api/objects.js';
import { useUsage } from '../api/usage.js';
import type { LeaseObject, UsageRecord } from '../api/types.js';
import { Connection, Phase } from '../components/badges.js';
import { ConfirmButton } from '../components/confirm.js';
import { Countdown } from '../components/time.js';
import { duration, money } from '../format.js';
import { LeaseForm } from './lease-form.js';

// Leases: a live countdown each, their resources, the estimate made at creation beside
// the final bill once ended, renew and release; and a form to create one.

const ENDED_PHASES = new Set(['Expired', 'Released', 'Failed']);

export function LeasesView() {
  const leases = useFeed(feeds.leases);
  const projects = useFeed(feeds.projects);
  const usage = useUsage(leases.revision);
  const current = [...leases.items].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const stored = new Set(current.map((lease) => lease.metadata.name));
  const ended = usage.records.filter((record) => !stored.has(record.lease)).reverse();
  return (
    <section aria-labelledby="leases-title">
      <h1 id="leases-title">
        Leases <Connection state={leases.state} what="Leases" />
      </h1>
      <LeaseForm projects={projects.items} />
      <h2>Leases</h2>
      {current.length === 0 ? <p class="muted">No leases.</p> : <LeaseCards leases={current} />}
      <h2>Ended</h2>
      {usage.error && <p class="error">{usage.error}</p>}
      <EndedTable records={ended} estimateOf={(name) => leases.lastSeen(name)?.status?.estimatedCost} />
    </section>
  );
}

function LeaseCards({ leases }: { leases: LeaseObject[] }) {
  return (
    <ul class="cards">
      {leases.map((lease) => (
        <LeaseCard key={lease.metadata.name} lease={lease} />
      ))}
    </ul>
  );
}

function LeaseCard({ lease }: { lease: LeaseObject }) {
  const name = lease.metadata.name;
  const status = lease.status ?? {};
  const ended = ENDED_PHASES.has(status.phase ?? '');
  const resources = status.resources ?? lease.spec.resources;
  return (
    <li class="card" data-lease={name}>
      <h3>
        {name} <Phase phase={status.phase} />
      </h3>
      <dl class="facts">
        <dt>Project</dt>
        <dd>{lease.spec.project}</dd>
        <dt>{ended ? 'Ended' : 'Expires in'}</dt>
        <dd>
          {ended ? (status.endReason ?? status.phase) : <Countdown until={status.expiresAt} label={`lease ${name}`} />}
        </dd>
        <dt>Resources</dt>
        <dd>{resources ? `${resources.cpu ?? '—'} CPU, ${resources.memory ?? '—'}` : '—'}</dd>
        <dt>Estimated cost</dt>
        <dd class="estimate">{money(status.estimatedCost, status.currency)}</dd>
        <dt>Final cost</dt>
        <dd class="final-cost">{ended ? money(status.cost, status.currency) : 'when it ends'}</dd>
        {status.url && (
          <>
            <dt>URL</dt>
            <dd class="wrap">
              <a href={status.url}>{status.url}</a>
            </dd>
          </>
        )}
      </dl>
      {!ended && <LeaseActions name={name} />}
    </li>
  );
}

function LeaseActions({ name }: { name: string }) {
  const [error, setError] = useState<string>();
  const renew = async (): Promise<void> => {
    try {
      setError(undefined);
      await call('POST', `${API}/leases/${encodeURIComponent(name)}/renew`, { json: { extend: '10m' } });
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };
  return (
    <div class="actions">
      <button type="button" onClick={() => void renew()}>
        Renew 10 min
      </button>
      <ConfirmButton
        label="Release"
        question={`Release lease ${name} and stop its container now?`}
        onConfirm={async () => {
          await deleteObject('Lease', name);
        }}
      />
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

function EndedTable({
  records,
  estimateOf,
}: {
  records: UsageRecord[];
  estimateOf: (name: string) => number | undefined;
}) {
  if (records.length === 0) return <p class="muted">No lease has ended yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Lease</th>
            <th scope="col">Project</th>
            <th scope="col">Ran</th>
            <th scope="col">Resources</th>
            <th scope="col">Estimated</th>
            <th scope="col">Final cost</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {records.map((record) => (
            <tr key={`${record.lease}-${record.startedAt}`} data-ended-lease={record.lease}>
              <td>{record.lease}</td>
              <td>{record.project}</td>
              <td>{duration(record.runtimeSeconds)}</td>
              <td>
                {record.cpuMillis}m CPU, {Math.round(record.memoryBytes / 2 ** 20)}Mi
              </td>
              <td class="estimate">{money(estimateOf(record.lease), record.currency)}</td>
              <td class="final-cost">{money(record.cost, record.currency)}</td>
              <td>{record.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
