import { useEffect, useState } from 'react';
import { TRACKED_SESSION_STATUSES, type TrackedSessionStatus } from '@mosaic/orchestrator-contract';

/**
 * The page's places, kept in the URL's hash: links can be shared and opened in
 * a new tab, Back and Forward work, and the API only ever serves `/`.
 */
export type Route =
  | { readonly page: 'sessions'; readonly status: TrackedSessionStatus | null; readonly cursor: string | null }
  | { readonly page: 'session'; readonly id: string }
  | { readonly page: 'new-task' };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const session = /^\/sessions\/([^/]+)$/.exec(path);
  if (session?.[1] !== undefined) return { page: 'session', id: decodeURIComponent(session[1]) };
  if (path === '/tasks/new') return { page: 'new-task' };
  const params = new URLSearchParams(query);
  const status = params.get('status');
  return {
    page: 'sessions',
    status: (TRACKED_SESSION_STATUSES as readonly string[]).includes(status ?? '') ? (status as TrackedSessionStatus) : null,
    cursor: params.get('cursor') || null,
  };
}

export function sessionsHref(status: TrackedSessionStatus | null, cursor: string | null = null): string {
  const params = new URLSearchParams();
  if (status !== null) params.set('status', status);
  if (cursor !== null) params.set('cursor', cursor);
  const query = params.toString();
  return `#/sessions${query === '' ? '' : `?${query}`}`;
}

export function sessionHref(id: string): string {
  return `#/sessions/${encodeURIComponent(id)}`;
}

export const NEW_TASK_HREF = '#/tasks/new';

export function navigate(href: string): void {
  window.location.hash = href;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
