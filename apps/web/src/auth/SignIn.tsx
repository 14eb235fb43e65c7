import { type FormEvent, useState } from 'react';
import { ApiClient, ApiError, messageOf } from '../api/client';

interface Props {
  /** Why the operator is here again (a token the API refused later on). */
  readonly notice: string | null;
  readonly onSignedIn: (token: string) => void;
}

/** Checks a token against the API (`GET /orchestrator/sessions?limit=1`) before keeping it. */
export function SignIn({ notice, onSignedIn }: Props) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const candidate = token.trim();
    if (candidate === '') {
      setError('Enter a token.');
      return;
    }
    setChecking(true);
    setError(null);
    try {
      await new ApiClient(candidate).get('/orchestrator/sessions?limit=1');
      onSignedIn(candidate);
    } catch (failure) {
      setError(describe(failure));
      setChecking(false);
    }
  }

  const message = error ?? notice;
  return (
    <main className="sign-in">
      <h1>Mosaic operators</h1>
      {/* submit shows its own failure in the form, so nothing waits for it here */}
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label htmlFor="token">Operator token</label>
        <p className="hint" id="token-hint">
          The administrator&apos;s <code>MOSAIC_API_TOKEN</code> or an operator key (<code>mk_…</code>). Kept in this tab only.
        </p>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          aria-describedby={message === null ? 'token-hint' : 'token-hint sign-in-error'}
          aria-invalid={error !== null}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          autoFocus
        />
        {message !== null && (
          <p className="error" id="sign-in-error" role="alert">
            {message}
          </p>
        )}
        <button type="submit" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function describe(failure: unknown): string {
  if (failure instanceof ApiError) {
    if (failure.status === 401) return `Token refused: ${failure.message}`;
    if (failure.status === 403) return `This key may not read sessions: ${failure.message}`;
    if (failure.status === 0) return 'The API could not be reached. Is it running?';
  }
  return `Sign-in failed: ${messageOf(failure)}`;
}
