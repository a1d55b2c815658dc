import { stringify } from 'yaml';
import { feeds } from '../api/feeds.js';
import { useFeed } from '../api/hooks.js';
import type { LumaObject } from '../api/types.js';
import { EventsTable } from '../components/events-table.js';
import { href } from '../router.js';

// Every stored object, read-only, as YAML (status and server-set metadata included), with
// the events that tell its history. Secrets never reach the API's answers, so none here.

const KINDS = [
  { plural: 'projects', kind: 'Project', feed: feeds.projects },
  { plural: 'images', kind: 'Image', feed: feeds.images },
  { plural: 'leases', kind: 'Lease', feed: feeds.leases },
] as const;

export function StudioView({ kind, name }: { kind?: string; name?: string }) {
  const projects = useFeed(feeds.projects);
  const images = useFeed(feeds.images);
  const leases = useFeed(feeds.leases);
  const events = useFeed(feeds.events);
  const lists: Record<string, LumaObject[]> = { projects: projects.items, images: images.items, leases: leases.items };
  const selected = kind && name ? lists[kind]?.find((object) => object.metadata.name === name) : undefined;
  return (
    <section aria-labelledby="studio-title" class="studio">
      <h1 id="studio-title">Studio</h1>
      <nav aria-label="Stored objects" class="studio-list">
        {KINDS.map(({ plural, kind: label }) => (
          <div key={plural}>
            <h2>{label}s</h2>
            <ul class="plain">
              {(lists[plural] ?? [])
                .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
                .map((object) => (
                  <li key={object.metadata.name}>
                    <a
                      href={href('studio', plural, object.metadata.name)}
                      aria-current={selected === object ? 'page' : undefined}
                    >
                      {object.metadata.name}
                    </a>
                  </li>
                ))}
            </ul>
          </div>
        ))}
      </nav>
      <div class="studio-object">
        {selected ? (
          <>
            <h2>
              {selected.kind.toLowerCase()}/{selected.metadata.name}
            </h2>
            <pre class="yaml" tabIndex={0} aria-label="Object as YAML">
              {stringify(selected)}
            </pre>
            <h3>Events</h3>
            <EventsTable
              events={events.items.filter(
                (event) => event.object.kind === selected.kind && event.object.name === selected.metadata.name,
              )}
              showObject={false}
            />
          </>
        ) : (
          <p class="muted">Choose an object to see it as stored.</p>
        )}
      </div>
    </section>
  );
}
