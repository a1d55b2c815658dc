import { useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { feeds } from '../api/feeds.js';
import { useFeed } from '../api/hooks.js';
import { deleteObject, manifestOf, putObject, wakeProject } from '../api/objects.js';
import type { Condition, ProjectObject } from '../api/types.js';
import { Connection, Phase } from '../components/badges.js';
import { ActionButton } from '../components/action-button.js';
import { ConfirmButton } from '../components/confirm.js';
import { EventsTable } from '../components/events-table.js';
import { RelativeTime } from '../components/time.js';
import { LogViewer } from './log-viewer.js';
import { ProjectMetricsView } from './project-metrics.js';

// One project: its state, spec and conditions, a live log, its events, and what a user
// may do to it (wake it, change its scaling limits, delete it).

export function ProjectView({ name }: { name: string }) {
  const projects = useFeed(feeds.projects);
  const events = useFeed(feeds.events);
  const project = projects.get(name);
  if (!project) {
    return (
      <section>
        <h1>Project {name}</h1>
        <p class="muted">{projects.state === 'live' ? 'There is no such project.' : 'Loading…'}</p>
      </section>
    );
  }
  const instances = project.status?.instances;
  return (
    <section aria-labelledby="project-title">
      <h1 id="project-title">
        Project {name} <Phase phase={project.status?.phase} /> <Connection state={projects.state} what="Project" />
      </h1>
      <dl class="facts">
        <dt>URL</dt>
        <dd>{project.status?.url ? <a href={project.status.url}>{project.status.url}</a> : '—'}</dd>
        <dt>Instances</dt>
        <dd>
          {instances
            ? `${instances.running} running, ${instances.starting} starting, ${instances.paused} paused, ${instances.stopped} stopped`
            : '—'}
        </dd>
        <dt>Last request</dt>
        <dd>
          <RelativeTime iso={project.status?.lastRequestAt} />
        </dd>
      </dl>
      <h2>Actions</h2>
      <div class="actions">
        <ActionButton label="Wake" run={() => wakeProject(name)} />
        <ScaleForm project={project} />
        <ConfirmButton
          label="Delete"
          question={`Delete project ${name} and stop its containers?`}
          onConfirm={async () => {
            await deleteObject('Project', name);
            window.location.hash = '#/';
          }}
        />
      </div>
      <h2>Metrics</h2>
      <ProjectMetricsView name={name} />
      <h2>Conditions</h2>
      <Conditions conditions={project.status?.conditions ?? []} />
      <h2>Log</h2>
      <LogViewer kind="projects" name={name} />
      <h2>Events</h2>
      <EventsTable
        events={events.items.filter((event) => event.object.kind === 'Project' && event.object.name === name)}
        showObject={false}
      />
      <h2>Spec</h2>
      <pre class="yaml">{stringify(project.spec)}</pre>
    </section>
  );
}

function Conditions({ conditions }: { conditions: Condition[] }) {
  if (conditions.length === 0) return <p class="muted">No conditions yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Message</th>
            <th scope="col">Since</th>
          </tr>
        </thead>
        <tbody>
          {conditions.map((condition) => (
            <tr key={condition.type}>
              <td>{condition.type}</td>
              <td>{condition.status}</td>
              <td>{condition.reason}</td>
              <td class="wrap">{condition.message}</td>
              <td>
                <RelativeTime iso={condition.lastTransitionTime} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ScaleForm({ project }: { project: ProjectObject }) {
  const scaling = project.spec.scaling ?? {};
  const [min, setMin] = useState(String(scaling.minInstances ?? 0));
  const [max, setMax] = useState(String(scaling.maxInstances ?? 1));
  const [message, setMessage] = useState<{ text: string; error: boolean }>();
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const spec = { ...project.spec, scaling: { ...scaling, minInstances: Number(min), maxInstances: Number(max) } };
    try {
      await putObject('Project', project.metadata.name, manifestOf(project, spec));
      setMessage({ text: 'Saved.', error: false });
    } catch (caught) {
      setMessage({ text: caught instanceof Error ? caught.message : String(caught), error: true });
    }
  };
  return (
    <form class="inline-form" onSubmit={(event) => void submit(event)} aria-label="Scaling limits">
      <label>
        Min instances
        <input type="number" min={0} value={min} onInput={(e) => setMin(e.currentTarget.value)} />
      </label>
      <label>
        Max instances
        <input type="number" min={1} value={max} onInput={(e) => setMax(e.currentTarget.value)} />
      </label>
      <button type="submit">Save limits</button>
      {message && (
        <span class={message.error ? 'error' : 'muted'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </span>
      )}
    </form>
  );
}
