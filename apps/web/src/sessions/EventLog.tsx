import { useLayoutEffect, useRef, useState } from 'react';
import type { SessionEvent } from '@mosaic/orchestrator-contract';
import { fieldsOf } from './event-data';
import { formatClock } from './format';

/** How close to the bottom (px) still counts as reading the latest events. */
const BOTTOM_SLACK_PX = 24;

interface Props {
  readonly events: readonly SessionEvent[];
  /** Older events exist that are not shown. */
  readonly truncated: boolean;
}

/**
 * The session's events in order. It keeps the newest in view while the reader
 * is at the bottom, and stays where they are once they scroll up, until they
 * scroll back down (or jump there).
 */
export function EventLog({ events, truncated }: Props) {
  const list = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);

  useLayoutEffect(() => {
    const element = list.current;
    if (following && element !== null) element.scrollTop = element.scrollHeight;
  }, [events, following]);

  function onScroll() {
    const element = list.current;
    if (element === null) return;
    setFollowing(element.scrollHeight - element.scrollTop - element.clientHeight <= BOTTOM_SLACK_PX);
  }

  return (
    <div className="event-log">
      {truncated && <p className="muted">Older events are not shown.</p>}
      <div ref={list} className="events" tabIndex={0} role="region" aria-label="Events" onScroll={onScroll}>
        {events.length === 0 ? (
          <p className="muted">No events yet.</p>
        ) : (
          <ol>
            {events.map((event) => (
              <EventLine key={event.sequence} event={event} />
            ))}
          </ol>
        )}
      </div>
      {!following && (
        <button type="button" className="jump" onClick={() => setFollowing(true)}>
          Jump to the latest events
        </button>
      )}
    </div>
  );
}

function EventLine({ event }: { readonly event: SessionEvent }) {
  const fields = fieldsOf(event);
  const stream = event.type === 'log' && fields.stream === 'stderr' ? 'stderr' : 'stdout';
  return (
    <li className={`event event-${event.type}${event.type === 'log' ? ` log-${stream}` : ''}`} data-sequence={event.sequence}>
      <time dateTime={event.timestamp}>{formatClock(event.timestamp)}</time>
      <span className="event-type">{event.type === 'log' ? stream : event.type}</span>
      <span className="event-text">{describe(event)}</span>
    </li>
  );
}

function describe(event: SessionEvent): string {
  const fields = fieldsOf(event);
  switch (event.type) {
    case 'status':
      return [`→ ${event.status ?? 'unknown'}`, fields.actor && `by ${fields.actor}`, fields.error && `(${fields.error})`]
        .filter(Boolean)
        .join(' ');
    case 'progress':
      return [fields.percent === undefined ? undefined : `${Math.round(fields.percent)}%`, fields.message].filter(Boolean).join(' ');
    case 'log':
      return fields.line ?? '';
    case 'result':
      return [
        fields.exit_code === undefined ? undefined : `exit code ${fields.exit_code}`,
        fields.summary,
        fields.error && `error: ${fields.error}`,
      ]
        .filter(Boolean)
        .join(' · ');
    case 'usage':
      return [
        fields.input_tokens === undefined ? undefined : `${fields.input_tokens} tokens in`,
        fields.output_tokens === undefined ? undefined : `${fields.output_tokens} out`,
        fields.cost_usd === undefined ? undefined : `$${fields.cost_usd}`,
      ]
        .filter(Boolean)
        .join(' · ');
    case 'artifact':
      return [fields.name, fields.size === undefined ? undefined : `${fields.size} bytes`].filter(Boolean).join(' · ');
  }
}
