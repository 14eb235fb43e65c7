import { ValidateBy, type ValidationOptions } from 'class-validator';
import { jsonStorageProblem, unstorableText } from '@mosaic/orchestrator-contract';

/** A string PostgreSQL can store: no NUL, well-formed Unicode (applied with `each` to arrays). */
export function IsStorableText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || unstorableText(value) === undefined,
        defaultMessage: (args) => unstorableText(String(args?.value)) ?? 'cannot be stored',
      },
    },
    options,
  );
}

/** A JSON value PostgreSQL can store as jsonb, nested no deeper than the contract's limit. */
export function IsStorableJson(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableJson',
      validator: {
        validate: (value: unknown) => jsonStorageProblem(value) === undefined,
        defaultMessage: (args) => jsonStorageProblem(args?.value) ?? 'cannot be stored',
      },
    },
    options,
  );
}
