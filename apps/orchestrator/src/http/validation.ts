import { validate } from '@mosaic/orchestrator-contract';
import type { z } from 'zod';
import { ApiError } from './api-error';

/** Parses input with a contract schema; a failure becomes a `400` whose message names the offending fields. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = validate(schema, input);
  if (!result.ok) throw new ApiError(400, 'bad_request', result.message);
  return result.value;
}
