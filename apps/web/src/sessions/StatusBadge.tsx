import type { SessionStatus } from '../api/types';

export function StatusBadge({ status }: { readonly status: SessionStatus }) {
  return <span className={`status status-${status}`}>{status}</span>;
}
