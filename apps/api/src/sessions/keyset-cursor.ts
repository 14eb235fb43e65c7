import { AppError } from '@mosaic/http-kit';
import { isUuid } from '@mosaic/orchestrator-contract';

/** Where a newest-first page ended: opaque to callers, a (created_at, id) pair to us. */
export interface KeysetPosition {
  readonly createdAt: Date;
  readonly id: string;
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(`${position.createdAt.toISOString()}|${position.id}`, 'utf8').toString('base64url');
}

/**
 * The times a cursor may carry: a session's `created_at` is written by the
 * database's clock, so anything outside these years was forged, and some of it
 * (year 0, negative years) PostgreSQL would refuse.
 */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(10000, 0, 1) - 1;

export function decodeCursor(cursor: string): KeysetPosition {
  const [timestamp, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(timestamp ?? '');
  const time = createdAt.getTime();
  if (rest.length > 0 || id === undefined || !isUuid(id) || !(time >= EARLIEST && time <= LATEST)) {
    throw new AppError('bad_request', 'cursor: not a cursor this API issued');
  }
  return { createdAt, id };
}
