import { useState } from 'preact/hooks';

// A button for one API call with no confirmation (Wake): busy while the call runs, and the
// API's refusal beside it. What the call changes arrives through the watch, not from here.

export function ActionButton({ label, run }: { label: string; run: () => Promise<unknown> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const click = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await run();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" disabled={busy} onClick={() => void click()}>
        {label}
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
