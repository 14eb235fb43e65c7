import { useEffect, useState } from 'react';
import {
  isTerminalStatus,
  type Session,
  type SessionEvent,
  type SessionWithEvents,
  type TrackedSessionStatus,
} from '@mosaic/orchestrator-contract';
import { type ApiClient, messageOf } from '../api/client';
import { followEventStream } from '../api/follow-stream';
import { Artifacts } from '../artifacts/Artifacts';
import { sessionsHref } from '../route';
import { EventLog } from './EventLog';
import { fieldsOf } from './event-data';
import { Fact } from './Fact';
import { formatTime, formatUsage, NONE } from './format';
import { laterState } from './session-state';
import { taskTitle } from './SessionList';
import { StatusBadge } from './StatusBadge';
import { StopControls } from './StopControls';
import { describeAgent, describeRepository } from './task-facts';
import { useTask } from './use-task';

/** The most events kept on screen: a chatty agent must not grow the page without bound. */
const MAX_SHOWN_EVENTS = 2_000;
const USAGE_READ_MS = 500;

type StreamState = 'idle' | 'live' | 'reconnecting' | 'ended' | { readonly unavailable: string };

function isTerminalStatusEvent(event: SessionEvent): boolean {
  return event.type === 'status' && event.status !== null && isTerminalStatus(event.status);
}

function statusEvents(events: readonly SessionEvent[]): TrackedSessionStatus[] {
  return events.flatMap((event) => (event.type === 'status' && event.status !== null ? [event.status] : []));
}

function withoutEvents({ events: _events, events_truncated: _truncated, ...session }: SessionWithEvents): Session {
  return session;
}

/** One session: its state, its events as they come, and Cancel and Kill while it is active. Mounted afresh (keyed) per session. */
export function SessionView({ client, id }: { readonly client: ApiClient; readonly id: string }) {
  const [session, setSession] = useState<Session | null>(null);
  const [events, setEvents] = useState<readonly SessionEvent[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>('idle');
  const task = useTask(client, session?.task_id);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    const path = `/orchestrator/sessions/${encodeURIComponent(id)}`;

    const refresh = async (): Promise<Session> => {
      const latest = withoutEvents(await client.get<SessionWithEvents>(path, signal));
      setSession((current) => laterState(current, latest));
      return latest;
    };

    let loaded = false;
    let usageRead: ReturnType<typeof setTimeout> | undefined;
    let shown: SessionEvent[] = [];
    const show = (more: readonly SessionEvent[], olderExist: boolean) => {
      shown = [...shown, ...more];
      if (olderExist || shown.length > MAX_SHOWN_EVENTS) setTruncated(true);
      shown = shown.slice(-MAX_SHOWN_EVENTS);
      setEvents(shown);
    };

    const follow = async () => {
      const first = await client.get<SessionWithEvents>(path, signal);
      loaded = true;
      // The stream resumes after these events: a status among them is shown now, or never.
      setSession(statusEvents(first.events).reduce((shown, status) => laterState(shown, { ...shown, status }), withoutEvents(first)));
      show(first.events, first.events_truncated === true);
      // The API numbers its own dispatch event 0: -1 is "nothing yet".
      let lastSequence = first.events.at(-1)?.sequence ?? -1;
      let ended = first.events.some(isTerminalStatusEvent);
      if (ended) {
        setStream('ended');
        return;
      }
      await followEventStream({
        client,
        path: `${path}/events/stream`,
        signal,
        lastEventId: () => (lastSequence >= 0 ? String(lastSequence) : undefined),
        onConnectionChange: (connected) => setStream(connected ? 'live' : 'reconnecting'),
        onMessage: (message) => {
          const event = JSON.parse(message.data) as SessionEvent;
          // A resumed stream starts after what the first load already showed; an operator's record shares the sequence before it.
          if (event.sequence < lastSequence) return;
          lastSequence = event.sequence;
          show([event], false);
          if (event.type === 'status' && event.status !== null) {
            const status = event.status;
            setSession((current) => (current === null ? current : laterState(current, { ...current, status })));
            // The header's exit code, error and end time come with the session, not the event.
            refresh().catch(() => {});
          }
          // The totals are the API's (the sums of the stored reports): read them, at most twice a second.
          if (event.type === 'usage' && usageRead === undefined) {
            usageRead = setTimeout(() => {
              usageRead = undefined;
              refresh().catch(() => {});
            }, USAGE_READ_MS);
          }
          if (isTerminalStatusEvent(event)) ended = true;
        },
        // The server ends the stream after the terminal status; any other end is a drop to resume from.
        finished: async () => ended || isTerminalStatus((await refresh()).status),
      });
      if (signal.aborted) return;
      setStream('ended');
      // The session's final exit code, error and end time, should the read after its last event have come too early.
      await refresh().catch(() => {});
    };

    follow().catch((failure: unknown) => {
      if (signal.aborted) return;
      if (loaded) setStream({ unavailable: messageOf(failure) });
      else setError(messageOf(failure));
    });
    return () => {
      controller.abort();
      clearTimeout(usageRead);
    };
  }, [client, id]);

  if (error !== null) {
    return (
      <section>
        <p>
          <a href={sessionsHref(null)}>← Sessions</a>
        </p>
        <p className="error" role="alert">
          Could not load session {id}: {error}
        </p>
      </section>
    );
  }
  if (session === null) return <p className="muted">Loading…</p>;

  const progress = [...events].reverse().find((event) => event.type === 'progress');
  const progressFields = progress === undefined ? undefined : fieldsOf(progress);
  // The artifacts are read again after each artifact event and once the session has ended.
  const lastArtifact = events.findLast((event) => event.type === 'artifact')?.sequence ?? -1;
  const artifactsKey = `${lastArtifact}|${isTerminalStatus(session.status)}`;
  return (
    <section aria-labelledby="session-heading" className="session-view">
      <p>
        <a href={sessionsHref(null)}>← Sessions</a>
      </p>
      <div className="session-title">
        <h2 id="session-heading">{taskTitle(session)}</h2>
        <StatusBadge status={session.status} />
      </div>
      <dl className="facts">
        <Fact name="Session" value={session.id} />
        <Fact name="Node" value={session.node ?? NONE} />
        <Fact name="Agent" value={task === null ? NONE : describeAgent(task.agent)} />
        <Fact name="Repository" value={task === null ? NONE : describeRepository(task.repository)} />
        {session.status === 'pending' && (
          <Fact name="Queue position" value={session.queue_position == null ? NONE : `#${session.queue_position}`} />
        )}
        <Fact name="Exit code" value={session.exit_code == null ? NONE : String(session.exit_code)} />
        <Fact name="Error" value={session.error ?? NONE} />
        <Fact name="Usage" value={formatUsage(session.usage)} />
        <Fact name="Created" value={formatTime(session.created_at)} />
        <Fact name="Started" value={formatTime(session.started_at)} />
        <Fact name="Ended" value={formatTime(session.ended_at)} />
      </dl>
      {!isTerminalStatus(session.status) && (
        <StopControls client={client} session={session} onStopped={(stopped) => setSession((current) => laterState(current, stopped))} />
      )}
      {progressFields !== undefined && (
        <div className="progress">
          <label htmlFor="session-progress">Progress{progressFields.message === undefined ? '' : `: ${progressFields.message}`}</label>
          <progress id="session-progress" max={100} value={progressFields.percent}>
            {progressFields.percent === undefined ? '' : `${Math.round(progressFields.percent)}%`}
          </progress>
        </div>
      )}
      <div className="toolbar">
        <h3>Events</h3>
        <StreamNote stream={stream} />
      </div>
      <EventLog events={events} truncated={truncated} />
      <Artifacts client={client} sessionId={session.id} refreshKey={artifactsKey} />
    </section>
  );
}

function StreamNote({ stream }: { readonly stream: StreamState }) {
  const text =
    stream === 'idle'
      ? 'Connecting…'
      : stream === 'live'
        ? 'Live'
        : stream === 'reconnecting'
          ? 'Reconnecting…'
          : stream === 'ended'
            ? 'Ended'
            : `Live events unavailable: ${stream.unavailable}`;
  return (
    <span className={`live live-${typeof stream === 'string' ? stream : 'unavailable'}`} role="status">
      {text}
    </span>
  );
}
