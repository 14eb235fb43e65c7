import { ValidateBy, type ValidationOptions } from 'class-validator';
import type { z } from 'zod';
import { describeIssues } from '@mosaic/orchestrator-contract';

/** The constraint's name: its message names the offending fields by their full paths already. */
export const CONFORMS_TO = 'conformsTo';

/**
 * A field checked by the contract's zod schema of it, so that a nested object has one definition (the
 * schema) rather than a DTO class that must agree with it; the message names each field by its path
 * (`agent.kind: …`).
 */
export function ConformsTo(schema: z.ZodType, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: CONFORMS_TO,
      validator: {
        validate: (value: unknown) => schema.safeParse(value).success,
        defaultMessage: (args) => {
          const result = schema.safeParse(args?.value);
          if (result.success) return `${args?.property ?? 'value'} is invalid`;
          return describeIssues(result.error.issues.map((issue) => ({ ...issue, path: [args?.property ?? 'value', ...issue.path] })));
        },
      },
    },
    options,
  );
}
