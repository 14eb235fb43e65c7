import { useCallback, useMemo, useState } from 'react';
import { ApiClient, type ApiError } from './api/client';
import { forgetToken, storedToken, storeToken } from './auth/token-store';
import { SignIn } from './auth/SignIn';
import { Banner } from './banner/Banner';
import { describeSpend, useDailyUsage } from './banner/daily-usage';
import { useOrchestratorHealth } from './banner/orchestrator-health';
import { NEW_TASK_HREF, sessionsHref, useRoute } from './route';
import { SessionList } from './sessions/SessionList';
import { SessionView } from './sessions/SessionView';
import { CreateTask } from './tasks/CreateTask';

export function App() {
  const [token, setToken] = useState(storedToken);
  const [notice, setNotice] = useState<string | null>(null);

  const signIn = useCallback((value: string) => {
    storeToken(value);
    setNotice(null);
    setToken(value);
  }, []);

  const signOut = useCallback((why: string | null) => {
    forgetToken();
    setNotice(why);
    setToken(null);
  }, []);

  if (token === null) return <SignIn notice={notice} onSignedIn={signIn} />;
  return <Console token={token} onSignOut={signOut} />;
}

function Console({ token, onSignOut }: { readonly token: string; readonly onSignOut: (why: string | null) => void }) {
  // A token revoked (or a key deleted) while the page is open: back to signing in, saying why.
  const client = useMemo(() => new ApiClient(token, (error) => onSignOut(`Token refused: ${error.message}`)), [token, onSignOut]);
  const route = useRoute();
  const health = useOrchestratorHealth(client);
  const daily = useDailyUsage(client);
  const [refusal, setRefusal] = useState<ApiError | null>(null);

  return (
    <>
      <header className="top">
        <h1>
          <a href={sessionsHref(null)}>Mosaic operators</a>
        </h1>
        <nav aria-label="Main">
          <a href={sessionsHref(null)} aria-current={route.page === 'sessions' ? 'page' : undefined}>
            Sessions
          </a>
          <a href={NEW_TASK_HREF} aria-current={route.page === 'new-task' ? 'page' : undefined}>
            New task
          </a>
        </nav>
        {health.state === 'up' && (
          <span className="cluster" title="Orchestrator">
            Orchestrator up
            {health.capacity !== undefined && ` · ${health.active ?? 0}/${health.capacity} running`}
            {health.queued !== undefined && ` · ${health.queued} queued`}
          </span>
        )}
        {daily !== undefined && (
          <span className="spend" title="What agents spent today (UTC), against MOSAIC_DAILY_COST_LIMIT_USD">
            {describeSpend(daily)}
          </span>
        )}
        <button type="button" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      <Banner health={health} daily={daily} refusal={refusal} onDismissRefusal={() => setRefusal(null)} />
      <main>
        {route.page === 'sessions' && (
          <SessionList key={`${route.status}|${route.cursor}`} client={client} status={route.status} cursor={route.cursor} />
        )}
        {route.page === 'session' && <SessionView key={route.id} client={client} id={route.id} />}
        {route.page === 'new-task' && <CreateTask client={client} onRefused={setRefusal} />}
      </main>
    </>
  );
}
