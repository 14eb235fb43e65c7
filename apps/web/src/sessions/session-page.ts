import type { Session, TrackedSessionStatus } from '@mosaic/orchestrator-contract';

/** The page of the list on screen: which filter and cursor it was loaded with, and what it holds. */
export interface ShownPage {
  readonly status: TrackedSessionStatus | null;
  readonly cursor: string | null;
  readonly sessions: readonly Session[];
  readonly nextCursor: string | null;
}

/** The API's order: newest first, by `created_at` then `id`. */
function newerFirst(a: Session, b: Session): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The page after a live update of `session`: replaced where it is shown
 * (unless what is shown is newer),
 * dropped when it no longer matches the filter, and added when it matches and
 * falls within the page (the first page takes everything newer than its last
 * row, so new sessions appear at its top; a page that is the last one takes
 * everything older too).
 */
export function upsertSession(page: ShownPage, session: Session): ShownPage {
  const matches = page.status === null || page.status === session.status;
  const index = page.sessions.findIndex((shown) => shown.id === session.id);
  if (index !== -1) {
    // The stream and a reload of the page race: an update older than what is shown is stale.
    if ((page.sessions[index]?.updated_at ?? '') > session.updated_at) return page;
    const sessions = matches
      ? page.sessions.map((shown) => (shown.id === session.id ? session : shown))
      : page.sessions.filter((shown) => shown.id !== session.id);
    return { ...page, sessions };
  }
  if (!matches || !belongsOn(page, session)) return page;
  return { ...page, sessions: [...page.sessions, session].sort(newerFirst) };
}

function belongsOn(page: ShownPage, session: Session): boolean {
  const first = page.sessions[0];
  const last = page.sessions[page.sessions.length - 1];
  if (first === undefined || last === undefined) return page.cursor === null;
  const newerThanFirst = newerFirst(session, first) < 0;
  const olderThanLast = newerFirst(session, last) > 0;
  if (newerThanFirst) return page.cursor === null;
  if (olderThanLast) return page.nextCursor === null;
  return true;
}
