import { type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { AppError } from '@mosaic/http-kit';
import { validate } from '@mosaic/orchestrator-contract';

/**
 * Validates a body by the contract's own schema, for bodies the API passes on
 * to the orchestrator: what the API accepts is then exactly what the
 * orchestrator does. An absent body is the empty object (every field optional).
 */
export class ContractBody<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema: S) {}

  transform(body: unknown): z.output<S> {
    const parsed = validate(this.schema, body ?? {});
    if (!parsed.ok) throw new AppError('bad_request', parsed.message);
    return parsed.value;
  }
}
