import { useEffect, useState } from 'react';
import { TRACKED_SESSION_STATUSES, type Session, type SessionPage, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';
import { type ApiClient, messageOf } from '../api/client';
import { followEventStream } from '../api/follow-stream';
import { navigate, sessionHref, sessionsHref } from '../route';
import { useNow } from '../ui/use-now';
import { formatAge, formatUsage, NONE } from './format';
import { type ShownPage, upsertSession } from './session-page';
import { StatusBadge } from './StatusBadge';

const PAGE_SIZE = 50;

type Live = 'connecting' | 'live' | 'reconnecting' | { readonly unavailable: string };

interface Props {
  readonly client: ApiClient;
  readonly status: TrackedSessionStatus | null;
  readonly cursor: string | null;
}

/** The sessions, newest first, a page at a time, kept up to date by the API's session stream. Mounted afresh (keyed) per filter and page. */
export function SessionList({ client, status, cursor }: Props) {
  const [page, setPage] = useState<ShownPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState<Live>('connecting');
  const now = useNow(5_000);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;

    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status !== null) query.set('status', status);
    if (cursor !== null) query.set('cursor', cursor);
    let loaded = false;
    const load = async () => {
      try {
        const answer = await client.get<SessionPage>(`/orchestrator/sessions?${query}`, signal);
        loaded = true;
        setPage({ status, cursor, sessions: answer.sessions, nextCursor: answer.next_cursor });
        setError(null);
      } catch (failure) {
        if (!signal.aborted) setError(messageOf(failure));
      }
    };
    // Load shows its own failures in the list.
    void load();

    followEventStream({
      client,
      path: '/orchestrator/events/stream',
      signal,
      // Whatever changed while the stream was down, or between the first page and the stream's opening, only a fresh page has.
      onOpen: (reconnected) => {
        // Load shows its own failures in the list.
        if (reconnected || loaded) void load();
      },
      onConnectionChange: (connected) => setLive(connected ? 'live' : 'reconnecting'),
      onMessage: (message) => {
        if (message.event !== 'session') return;
        const session = JSON.parse(message.data) as Session;
        setPage((shown) => (shown === null ? shown : upsertSession(shown, session)));
      },
    }).catch((failure: unknown) => {
      if (!signal.aborted) setLive({ unavailable: messageOf(failure) });
    });
    return () => controller.abort();
  }, [client, status, cursor]);

  return (
    <section aria-labelledby="sessions-heading">
      <div className="toolbar">
        <h2 id="sessions-heading">Sessions</h2>
        <label className="inline">
          Status{' '}
          <select
            value={status ?? ''}
            onChange={(event) => navigate(sessionsHref((event.target.value || null) as TrackedSessionStatus | null))}
          >
            <option value="">all</option>
            {TRACKED_SESSION_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <LiveState live={live} />
      </div>
      {error !== null && (
        <p className="error" role="alert">
          Could not load the sessions: {error}
        </p>
      )}
      {page === null && error === null && <p className="muted">Loading…</p>}
      {page !== null && <SessionTable sessions={page.sessions} now={now} />}
      {page !== null && (
        <nav className="pager" aria-label="Pages">
          {cursor !== null && <a href={sessionsHref(status)}>First page</a>}
          {page.nextCursor !== null && <a href={sessionsHref(status, page.nextCursor)}>Next page</a>}
        </nav>
      )}
    </section>
  );
}

function LiveState({ live }: { readonly live: Live }) {
  const text =
    live === 'connecting'
      ? 'Connecting…'
      : live === 'live'
        ? 'Live'
        : live === 'reconnecting'
          ? 'Reconnecting…'
          : `Live updates unavailable: ${live.unavailable}`;
  return (
    <span className={`live live-${typeof live === 'string' ? live : 'unavailable'}`} role="status">
      {text}
    </span>
  );
}

function SessionTable({ sessions, now }: { readonly sessions: readonly Session[]; readonly now: number }) {
  if (sessions.length === 0) return <p className="muted">No sessions here.</p>;
  return (
    <table className="sessions">
      <thead>
        <tr>
          <th scope="col">Status</th>
          <th scope="col">Task</th>
          <th scope="col">Node</th>
          <th scope="col">Queue</th>
          <th scope="col">Usage</th>
          <th scope="col">Age</th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((session) => (
          <tr key={session.id} data-session-id={session.id}>
            <td data-label="Status">
              <StatusBadge status={session.status} />
            </td>
            <td data-label="Task">
              <a href={sessionHref(session.id)}>{taskTitle(session)}</a>
            </td>
            <td data-label="Node">{session.node ?? NONE}</td>
            <td data-label="Queue">
              {session.status === 'pending' && session.queue_position != null ? `#${session.queue_position}` : NONE}
            </td>
            <td data-label="Usage">{formatUsage(session.usage)}</td>
            <td data-label="Age">
              <time dateTime={session.created_at}>{formatAge(session.created_at, now)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function taskTitle(session: Session): string {
  return session.task_title || `task ${session.task_id.slice(0, 8)}`;
}
