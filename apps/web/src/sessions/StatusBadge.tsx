import type { TrackedSessionStatus } from '@mosaic/orchestrator-contract';

export function StatusBadge({ status }: { readonly status: TrackedSessionStatus }) {
  return <span className={`status status-${status}`}>{status}</span>;
}
