import type { Usage } from '@mosaic/orchestrator-contract';

/** Shown where a value is not known (yet). */
export const NONE = '—';

export function formatAge(since: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

const tokens = new Intl.NumberFormat('en');
const dollars = new Intl.NumberFormat('en', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });

export function formatUsage(usage: Usage | null | undefined): string {
  if (usage === null || usage === undefined) return NONE;
  return `${tokens.format(usage.input_tokens)} in · ${tokens.format(usage.output_tokens)} out · ${dollars.format(usage.cost_usd)}`;
}

/** A timestamp in the reader's time zone, to the second. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return NONE;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

export function formatClock(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString(undefined, { hour12: false });
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/** A size in bytes, in binary units past a thousand and twenty-four. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${oneDecimal.format(value)} ${BYTE_UNITS[unit]}`;
}
