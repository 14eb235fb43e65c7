import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { NO_CONTROL_CHARACTERS, OPERATOR_SCOPES, type OperatorScope } from '@mosaic/orchestrator-contract';
import { IsStorableText } from '../http/storable.validators';

/** The body of `POST /operator-keys`; the contract's `createOperatorKeySchema` documents it, and agrees (see the spec). */
export class CreateOperatorKeyDto {
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsStorableText()
  @Matches(NO_CONTROL_CHARACTERS, { message: '$property must not contain control characters' })
  name!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(OPERATOR_SCOPES.length)
  @IsIn(OPERATOR_SCOPES, { each: true })
  scopes!: OperatorScope[];
}
