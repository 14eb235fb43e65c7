import { type ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { CONFORMS_TO } from './conforms-to.validator';

/**
 * The operator endpoints' DTO validation: unknown fields are refused, and the
 * error names every offending field by its path (`metadata.owner: ...`).
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => new AppError('bad_request', describeValidationErrors(errors)),
  });
}

/**
 * Refuses the unknown fields `forbidNonWhitelisted` cannot see: class-transformer
 * leaves out of a DTO instance every field named like a method all objects have
 * (`valueOf`, `toString`, `constructor`, …), so `{ "title": "t", "valueOf": 1 }`
 * would pass as `{ "title": "t" }`.
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const transformed: unknown = await super.transform(value, metadata);
    const dropped = droppedFields(value, transformed);
    if (dropped.length > 0)
      throw new AppError('bad_request', dropped.map(({ path, key }) => `${path}: property ${key} should not exist`).join('; '));
    return transformed;
  }
}

/** The fields of `plain` that its DTO instance (and the DTO instances nested in it) do not have. */
function droppedFields(plain: unknown, instance: unknown, parent = ''): { path: string; key: string }[] {
  if (!isDtoInstance(instance) || typeof plain !== 'object' || plain === null) return [];
  return Object.keys(plain).flatMap((key) => {
    const path = parent === '' ? key : `${parent}.${key}`;
    if (!Object.prototype.hasOwnProperty.call(instance, key)) return [{ path, key }];
    return droppedFields((plain as Record<string, unknown>)[key], instance[key], path);
  });
}

/** An instance of a DTO class: not a plain object or array, which a DTO takes as sent (task metadata). */
function isDtoInstance(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype !== Object.prototype && prototype !== null;
}

function describeValidationErrors(errors: ValidationError[], parent = ''): string {
  return errors
    .flatMap((error) => {
      const field = parent === '' ? error.property : `${parent}.${error.property}`;
      // A schema's message names the fields inside by their paths from the top already.
      const own = Object.entries(error.constraints ?? {}).map(([name, text]) => (name === CONFORMS_TO ? text : `${field}: ${text}`));
      const nested = error.children?.length ? [describeValidationErrors(error.children, field)] : [];
      return [...own, ...nested];
    })
    .join('; ');
}
