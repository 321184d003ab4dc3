import { useState, type FormEvent } from "react";

import { ApiError, signIn, type SessionInfo } from "../api";

export function SignIn({ message, onSignedIn }: { message?: string; onSignedIn: (session: SessionInfo) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(key);
      setKey(""); // the key is not kept: the session cookie (HttpOnly) stands in for it
      onSignedIn(session);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That API key is not valid. Check it and try again." : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="signin card">
      <h1>Sign in to Vystra</h1>
      {message && <p role="status">{message}</p>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="api-key">Tenant API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-help"
          aria-invalid={error ? true : undefined}
        />
        <p id="api-key-help" className="help">
          Made by <code>vystra tenants create NAME</code>. It is sent once and never stored in the browser; the
          session lasts until you sign out or close the browser.
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
