import { useState } from 'preact/hooks';
import { signInWithToken } from '../api/session.js';

// The API token, pasted once. It goes to the server in a request body and is forgotten:
// from then on the browser holds only an HttpOnly session cookie.

export function SignIn({ onSignedIn, notice }: { onSignedIn: () => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    try {
      await signInWithToken(token);
      setToken('');
      onSignedIn();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form class="card" onSubmit={(event) => void submit(event)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Luma</h1>
        <p>
          Paste the API token (in <code>STATE_DIR/api-token</code> on the Luma host), or run <code>luma console</code>{' '}
          there for a one-time link.
        </p>
        <label>
          API token
          <input
            type="password"
            autocomplete="off"
            required
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
