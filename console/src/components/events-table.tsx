import type { LumaEvent } from '../api/types.js';
import { RelativeTime } from './time.js';

// Events newest first, as `luma events` lists them (but newest on top for a page).

export function EventsTable({ events, showObject }: { events: LumaEvent[]; showObject: boolean }) {
  if (events.length === 0) return <p class="muted">No events.</p>;
  const newest = [...events].sort((a, b) => b.lastTimestamp.localeCompare(a.lastTimestamp));
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Type</th>
            {showObject && <th scope="col">Object</th>}
            <th scope="col">Reason</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {newest.map((event) => (
            <tr key={event.seq} class={event.type === 'Warning' ? 'warning-row' : ''}>
              <td>
                <RelativeTime iso={event.lastTimestamp} />
                {event.count > 1 && <span class="muted"> ×{event.count}</span>}
              </td>
              <td>{event.type}</td>
              {showObject && <td>{`${event.object.kind.toLowerCase()}/${event.object.name}`}</td>}
              <td>{event.reason}</td>
              <td class="wrap">{event.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
