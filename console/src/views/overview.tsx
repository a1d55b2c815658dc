import { useState } from 'preact/hooks';
import { feeds } from '../api/feeds.js';
import { useFeed } from '../api/hooks.js';
import { useMetrics } from '../api/metrics.js';
import type { ImageObject, LeaseObject, LumaObject, ProjectMetrics, ProjectObject } from '../api/types.js';
import { Phase } from '../components/badges.js';
import { EventsTable } from '../components/events-table.js';
import { Countdown, RelativeTime } from '../components/time.js';
import { seconds } from '../format.js';
import { matches, parseSelector } from '../labels.js';
import { href } from '../router.js';

// Everything at a glance: projects (with their cold starts), images, active leases and
// recent warnings, all live.

const RECENT_WARNINGS = 10;

export function Overview() {
  const projects = useFeed(feeds.projects);
  const images = useFeed(feeds.images);
  const leases = useFeed(feeds.leases);
  const events = useFeed(feeds.events);
  const { summary } = useMetrics(projects.revision + events.revision);
  const metrics = new Map(summary?.projects.map((entry) => [entry.project, entry]));
  const [search, setSearch] = useState('');
  const [selector, setSelector] = useState('');
  const terms = parseSelector(selector);
  const shown = <T extends LumaObject>(items: T[]): T[] =>
    items
      .filter((item) => item.metadata.name.includes(search.trim()) && (!terms || matches(terms, item.metadata.labels)))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const warnings = events.items.filter((event) => event.type === 'Warning').slice(-RECENT_WARNINGS);
  const active = leases.items.filter((lease) => lease.status?.phase === 'Active' || lease.status?.phase === 'Pending');
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <div class="filters">
        <label>
          Search by name
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <label>
          Filter by label
          <input
            value={selector}
            placeholder="team=web, !canary"
            aria-invalid={terms === undefined}
            onInput={(e) => setSelector(e.currentTarget.value)}
          />
        </label>
        {terms === undefined && (
          <p class="error" role="alert">
            Use a=b, a!=b, a or !a, separated by commas.
          </p>
        )}
      </div>
      <h2>Projects</h2>
      <ProjectsTable projects={shown(projects.items)} metrics={metrics} />
      <h2>Images</h2>
      <ImagesTable images={shown(images.items)} />
      <h2>Active leases</h2>
      <ActiveLeases leases={shown(active)} />
      <h2>Recent warnings</h2>
      <EventsTable events={warnings} showObject={true} />
    </section>
  );
}

function ProjectsTable({ projects, metrics }: { projects: ProjectObject[]; metrics: Map<string, ProjectMetrics> }) {
  if (projects.length === 0) return <p class="muted">No projects.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Phase</th>
            <th scope="col" title="running / starting / paused / stopped">
              Instances
            </th>
            <th scope="col">Last request</th>
            <th scope="col">Cold starts</th>
            <th scope="col">Median start</th>
            <th scope="col">URL</th>
          </tr>
        </thead>
        <tbody>
          {projects.map((project) => (
            <ProjectRow key={project.metadata.name} project={project} metrics={metrics.get(project.metadata.name)} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ProjectRow({ project, metrics }: { project: ProjectObject; metrics: ProjectMetrics | undefined }) {
  const name = project.metadata.name;
  const instances = project.status?.instances;
  return (
    <tr data-project={name}>
      <td>
        <a href={href('projects', name)}>{name}</a>
      </td>
      <td>
        <Phase phase={project.status?.phase} />
      </td>
      <td>
        {instances ? (
          <span
            aria-label={`${instances.running} running, ${instances.starting} starting, ${instances.paused} paused, ${instances.stopped} stopped`}
          >
            {instances.running} / {instances.starting} / {instances.paused} / {instances.stopped}
          </span>
        ) : (
          '—'
        )}
      </td>
      <td>
        <RelativeTime iso={project.status?.lastRequestAt} />
      </td>
      <td data-metric="cold-starts">{metrics?.coldStarts ?? 0}</td>
      <td data-metric="cold-start-median">{seconds(metrics?.coldStartMedianSeconds)}</td>
      <td class="wrap">{project.status?.url ? <a href={project.status.url}>{project.status.url}</a> : '—'}</td>
    </tr>
  );
}

function ImagesTable({ images }: { images: ImageObject[] }) {
  if (images.length === 0) return <p class="muted">No images.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Build</th>
            <th scope="col">Took</th>
            <th scope="col">Tag</th>
          </tr>
        </thead>
        <tbody>
          {images.map((image) => (
            <tr key={image.metadata.name}>
              <td>
                <a href={href('images', image.metadata.name)}>{image.metadata.name}</a>
              </td>
              <td>
                <Phase phase={image.status?.phase} />
              </td>
              <td>
                {image.status?.buildDurationSeconds !== undefined
                  ? `${image.status.buildDurationSeconds.toFixed(1)} s`
                  : '—'}
              </td>
              <td class="wrap mono">{image.status?.image ?? image.spec.ref ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ActiveLeases({ leases }: { leases: LeaseObject[] }) {
  if (leases.length === 0) return <p class="muted">No active leases.</p>;
  return (
    <ul class="plain">
      {leases.map((lease) => (
        <li key={lease.metadata.name}>
          <a href={href('leases')}>{lease.metadata.name}</a> ({lease.spec.project}){' '}
          <Phase phase={lease.status?.phase} />{' '}
          <Countdown until={lease.status?.expiresAt} label={`lease ${lease.metadata.name}`} />
        </li>
      ))}
    </ul>
  );
}
