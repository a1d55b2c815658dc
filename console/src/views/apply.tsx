import { useState } from 'preact/hooks';
import { ApiError, call } from '../api/http.js';
import type { ApplyAnswer, ManifestIssue } from '../api/types.js';
import { objectDiff } from '../diff.js';

// Paste or drop a manifest, see what it would change, apply it. Refusals list each problem
// as `file:line:column: path: message`, exactly as `luma apply` prints them, and nothing
// is stored: the API applies all documents or none.

type Outcome =
  | { kind: 'plan'; answer: ApplyAnswer }
  | { kind: 'applied'; answer: ApplyAnswer }
  | { kind: 'refused'; message: string; issues: ManifestIssue[] };

export function formatIssue(issue: ManifestIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

export function ApplyView() {
  const [file, setFile] = useState('manifest.yaml');
  const [text, setText] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  const [busy, setBusy] = useState(false);

  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    try {
      const query = `source=${encodeURIComponent(file)}${dryRun ? '&dryRun=true' : ''}`;
      const answer = await call<ApplyAnswer>('POST', `/apply?${query}`, { yaml: text });
      setOutcome({ kind: dryRun ? 'plan' : 'applied', answer });
    } catch (caught) {
      const issues = caught instanceof ApiError ? caught.issues : [];
      setOutcome({ kind: 'refused', message: caught instanceof Error ? caught.message : String(caught), issues });
    } finally {
      setBusy(false);
    }
  };
  const drop = async (event: DragEvent): Promise<void> => {
    event.preventDefault();
    const dropped = event.dataTransfer?.files[0];
    if (!dropped) return;
    setFile(dropped.name);
    setText(await dropped.text());
  };

  return (
    <section aria-labelledby="apply-title">
      <h1 id="apply-title">Apply</h1>
      <form class="card" onSubmit={(event) => (event.preventDefault(), void send(false))}>
        <label>
          File name (used in error messages)
          <input value={file} onInput={(e) => setFile(e.currentTarget.value)} />
        </label>
        <label>
          Manifest (YAML; paste, or drop a file here)
          <textarea
            rows={16}
            spellcheck={false}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => void drop(e)}
          />
        </label>
        <div class="actions">
          <button type="button" disabled={busy || !text.trim()} onClick={() => void send(true)}>
            Preview changes
          </button>
          <button type="submit" class="primary" disabled={busy || !text.trim()}>
            Apply
          </button>
        </div>
      </form>
      {outcome && <OutcomeView outcome={outcome} />}
    </section>
  );
}

function OutcomeView({ outcome }: { outcome: Outcome }) {
  if (outcome.kind === 'refused') {
    const lines = outcome.issues.length > 0 ? outcome.issues.map(formatIssue) : [outcome.message];
    return (
      <div class="card refused" role="alert">
        <h2>Refused; nothing was changed</h2>
        <pre class="issues">{lines.join('\n')}</pre>
      </div>
    );
  }
  const { results } = outcome.answer;
  return (
    <div class="card" role="status">
      <h2>{outcome.kind === 'plan' ? 'What would change' : 'Applied'}</h2>
      <ul class="plain">
        {results.map((result) => (
          <li key={`${result.kind}/${result.name}`}>
            <strong>
              {result.kind.toLowerCase()}/{result.name}
            </strong>{' '}
            {outcome.kind === 'plan' ? wouldBe(result.result) : result.result}
            {outcome.kind === 'plan' && result.result !== 'unchanged' && (
              <DiffBlock text={objectDiff(result.live, result.object)} />
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Added and removed lines marked by colour as well as by their + and -. */
function DiffBlock({ text }: { text: string }) {
  return (
    <pre class="diff">
      {text.split('\n').map((line, index) => (
        <div key={index} class={line.startsWith('+') ? 'added' : line.startsWith('-') ? 'removed' : ''}>
          {line}
        </div>
      ))}
    </pre>
  );
}

function wouldBe(result: string): string {
  return result === 'unchanged' ? 'unchanged' : `would be ${result}`;
}
