import { useState } from 'preact/hooks';

// A destructive action asks once more, in place: the first press shows what will happen
// and a second button to go ahead.

interface ConfirmProps {
  label: string;
  question: string;
  onConfirm: () => Promise<void>;
}

export function ConfirmButton({ label, question, onConfirm }: ConfirmProps) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  if (!asking)
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  const go = async (): Promise<void> => {
    setBusy(true);
    try {
      await onConfirm();
      setAsking(false);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" class="danger" disabled={busy} onClick={() => void go()}>
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
