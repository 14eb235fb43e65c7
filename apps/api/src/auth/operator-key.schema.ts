import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { OPERATOR_SCOPES, type OperatorScope } from './operator';
import type { CreatedOperatorKeyResponse, OperatorKeyResponse } from './operator-key.presenter';

/** The OpenAPI schemas of the key answers; each implements its presenter's type, so an undocumented field fails to compile. */
@ApiSchema({ name: 'OperatorKey', description: 'an operator key, without its secret' })
export class OperatorKeySchema implements OperatorKeyResponse {
  @ApiProperty({ format: 'uuid', example: '3c9d1f0e-2b7a-4c5d-9e8f-0a1b2c3d4e5f' })
  id!: string;

  @ApiProperty({ example: 'ci-bot' })
  name!: string;

  @ApiProperty({ enum: OPERATOR_SCOPES, isArray: true, example: ['read', 'dispatch'] })
  scopes!: OperatorScope[];

  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.000Z' })
  created_at!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when it was revoked; `null` while it works', example: null })
  revoked_at!: string | null;
}

@ApiSchema({ name: 'CreatedOperatorKey', description: 'a new operator key, with its secret: shown this once' })
export class CreatedOperatorKeySchema extends OperatorKeySchema implements CreatedOperatorKeyResponse {
  @ApiProperty({ description: 'the key (`mk_` and 256 random bits); the API keeps only its hash and never shows it again', example: 'mk_…' })
  key!: string;
}

@ApiSchema({ name: 'OperatorKeyList', description: 'every operator key, revoked ones included, newest first' })
export class OperatorKeyListSchema {
  @ApiProperty({ type: [OperatorKeySchema] })
  keys!: OperatorKeySchema[];
}
