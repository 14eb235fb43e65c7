import { AppError } from '@mosaic/http-kit';

/**
 * SQLSTATE classes of failures that say the database cannot serve now, not
 * that the statement or its values were wrong: connection exceptions (08),
 * insufficient resources (53), operator intervention (57: a statement
 * cancelled by `statement_timeout` among them).
 */
const UNAVAILABLE_CLASSES = ['08', '53', '57'];

/** Whether `error` says the database cannot serve now: such a failure is answered 503 and retried later, by whoever sent it. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
  // pg-pool's own errors carry no SQLSTATE: no pooled connection came in time, or the connection broke.
  return /timeout exceeded when trying to connect|Connection terminated/.test(error.message);
}

/** The error a caller gets for such a failure (503, with Retry-After). */
export function databaseUnavailable(): AppError {
  return new AppError('database_unavailable', 'the database cannot take this now; retry later');
}
