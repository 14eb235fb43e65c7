import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Matches, MaxLength, MinLength, ValidateBy } from 'class-validator';
import {
  NO_CONTROL_CHARACTERS,
  OPERATOR_SCOPES,
  type OperatorScope,
  RESERVED_NAME_MESSAGE,
  isReservedOperatorKeyName,
} from '@mosaic/orchestrator-contract';
import { IsStorableText } from '../http/storable.validators';

/** The body of `POST /operator-keys`; the contract's `createOperatorKeySchema` documents it, and agrees (see the spec). */
export class CreateOperatorKeyDto {
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsStorableText()
  @Matches(NO_CONTROL_CHARACTERS, { message: '$property must not contain control characters' })
  @ValidateBy({
    name: 'isNotReservedName',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !isReservedOperatorKeyName(value),
      defaultMessage: () => `name ${RESERVED_NAME_MESSAGE}`,
    },
  })
  name!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(OPERATOR_SCOPES.length)
  @IsIn(OPERATOR_SCOPES, { each: true })
  scopes!: OperatorScope[];
}
