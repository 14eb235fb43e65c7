import { z } from 'zod';
import { API_EXAMPLES } from './api-sessions';
import { storableText } from './api-text';
import { timestampSchema } from './gateway';
import { uuidSchema } from './ids';

/** (v2) What an operator key may do (contract section 4): `read` the GET endpoints, `dispatch` tasks, `stop` sessions. */
export const OPERATOR_SCOPES = ['read', 'dispatch', 'stop'] as const;
export type OperatorScope = (typeof OPERATOR_SCOPES)[number];

const scopesSchema = z.array(z.enum(OPERATOR_SCOPES));

/** A key's name is recorded as the actor in event logs and shown to operators: no line breaks, escapes or other controls. */
export const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;

/**
 * Names the event log gives actors that are no operator key: the
 * administrator's token, and the API's own cancels and kills. A key may not
 * take one, whatever its case or the spaces around it.
 */
export const RESERVED_OPERATOR_KEY_NAMES = ['admin', 'budget', 'reconciliation'] as const;

export function isReservedOperatorKeyName(name: string): boolean {
  return (RESERVED_OPERATOR_KEY_NAMES as readonly string[]).includes(name.trim().toLowerCase());
}

/** What a refused reserved name is told. */
export const RESERVED_NAME_MESSAGE = `must not be ${RESERVED_OPERATOR_KEY_NAMES.join(', ')} (in any case): the event log names others so`;

/** `POST /operator-keys`. */
export const createOperatorKeySchema = z.strictObject({
  name: storableText({ min: 1, max: 100 })
    .regex(NO_CONTROL_CHARACTERS, 'must not contain control characters')
    .refine((name) => !isReservedOperatorKeyName(name), RESERVED_NAME_MESSAGE)
    .meta({
      description: `who holds the key, without control characters, unique among keys and not ${RESERVED_OPERATOR_KEY_NAMES.join(', ')}; recorded as the actor of what it does`,
      example: 'ci-bot',
    }),
  scopes: scopesSchema
    .min(1)
    .max(OPERATOR_SCOPES.length)
    .meta({ example: ['read', 'dispatch'] }),
});
export type CreateOperatorKey = z.infer<typeof createOperatorKeySchema>;

export const operatorKeySchema = z
  .object({
    id: uuidSchema.meta({ example: '3c9d1f0e-2b7a-4c5d-9e8f-0a1b2c3d4e5f' }),
    name: z.string().meta({ example: 'ci-bot' }),
    scopes: scopesSchema.meta({ example: ['read', 'dispatch'] }),
    created_at: timestampSchema.meta({ example: API_EXAMPLES.at }),
    revoked_at: timestampSchema.nullable().meta({ description: 'when it was revoked; `null` while it works', example: null }),
  })
  .meta({ description: 'an operator key, without its secret' });
export type OperatorKey = z.infer<typeof operatorKeySchema>;

export const createdOperatorKeySchema = operatorKeySchema
  .extend({
    key: z
      .string()
      .meta({ description: 'the key (`mk_` and 256 random bits); the API keeps only its hash and never shows it again', example: 'mk_…' }),
  })
  .meta({ description: 'a new operator key, with its secret: shown this once' });
export type CreatedOperatorKey = z.infer<typeof createdOperatorKeySchema>;

export const operatorKeyListSchema = z
  .object({ keys: z.array(operatorKeySchema) })
  .meta({ description: 'every operator key, revoked ones included, newest first' });
export type OperatorKeyList = z.infer<typeof operatorKeyListSchema>;
