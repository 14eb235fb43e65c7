import { ValidationError, ValidationPipe } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';

/**
 * The operator endpoints' DTO validation: unknown fields are refused, and the
 * error names every offending field by its path (`metadata.owner: ...`).
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => new AppError('bad_request', describeValidationErrors(errors)),
  });
}

function describeValidationErrors(errors: ValidationError[], parent = ''): string {
  return errors
    .flatMap((error) => {
      const field = parent === '' ? error.property : `${parent}.${error.property}`;
      const own = Object.values(error.constraints ?? {}).map((text) => `${field}: ${text}`);
      const nested = error.children?.length ? [describeValidationErrors(error.children, field)] : [];
      return [...own, ...nested];
    })
    .join('; ');
}
