import { validate } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import type { z } from 'zod';

/** Parses input with a contract schema; a failure becomes a `400` whose message names the offending fields. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = validate(schema, input);
  if (!result.ok) throw new AppError('bad_request', result.message);
  return result.value;
}
