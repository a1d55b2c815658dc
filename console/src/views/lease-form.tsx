import { useState } from 'preact/hooks';
import { putObject } from '../api/objects.js';
import type { ProjectObject } from '../api/types.js';

// A new lease: which project, for how long, with what resources. The operator's bounds
// are the API's to enforce: its refusal is shown as it is worded, the same words
// `luma apply` prints, so the console never disagrees with the server about a limit.

const CPU_CHOICES = ['250m', '500m', '1000m', '2000m'];
const MEMORY_CHOICES = ['256Mi', '512Mi', '1Gi', '2Gi'];

export function LeaseForm({ projects }: { projects: ProjectObject[] }) {
  const [name, setName] = useState('');
  const [project, setProject] = useState('');
  const [ttl, setTtl] = useState('15m');
  const [cpu, setCpu] = useState('500m');
  const [memory, setMemory] = useState('256Mi');
  const [outcome, setOutcome] = useState<{ text: string; error: boolean }>();
  const [busy, setBusy] = useState(false);
  const chosen = project || projects[0]?.metadata.name || '';

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const lease = {
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Lease',
      metadata: { name: name.trim() },
      spec: { project: chosen, ttl: ttl.trim(), resources: { cpu: cpu.trim(), memory: memory.trim() } },
    };
    try {
      await putObject('Lease', name.trim(), lease);
      setOutcome({ text: `Lease ${name.trim()} created.`, error: false });
      setName('');
    } catch (caught) {
      setOutcome({ text: caught instanceof Error ? caught.message : String(caught), error: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={(event) => void submit(event)} aria-labelledby="lease-form-title">
      <h2 id="lease-form-title">New lease</h2>
      <div class="grid">
        <label>
          Name
          <input
            required
            pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Project
          <select value={chosen} onChange={(e) => setProject(e.currentTarget.value)} required>
            {projects.map((p) => (
              <option key={p.metadata.name} value={p.metadata.name}>
                {p.metadata.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Time to live
          <input value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} aria-describedby="ttl-hint" />
          <small id="ttl-hint">such as 15m or 1h</small>
        </label>
        <label>
          CPU
          <input list="cpu-choices" value={cpu} onInput={(e) => setCpu(e.currentTarget.value)} />
        </label>
        <label>
          Memory
          <input list="memory-choices" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
        </label>
      </div>
      <datalist id="cpu-choices">
        {CPU_CHOICES.map((choice) => (
          <option key={choice} value={choice} />
        ))}
      </datalist>
      <datalist id="memory-choices">
        {MEMORY_CHOICES.map((choice) => (
          <option key={choice} value={choice} />
        ))}
      </datalist>
      <button type="submit" disabled={busy || chosen === ''}>
        Create lease
      </button>
      {outcome && (
        <p class={outcome.error ? 'error' : 'ok'} role={outcome.error ? 'alert' : 'status'}>
          {outcome.text}
        </p>
      )}
    </form>
  );
}
