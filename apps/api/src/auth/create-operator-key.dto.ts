import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsStorableText } from '../http/storable.validators';
import { OPERATOR_SCOPES, type OperatorScope } from './operator';

@ApiSchema({ name: 'CreateOperatorKey' })
export class CreateOperatorKeyDto {
  @ApiProperty({ minLength: 1, maxLength: 100, description: 'who holds the key, without control characters; recorded as the actor of what it does', example: 'ci-bot' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsStorableText()
  // The name is recorded as the actor in event logs and shown to operators: no line breaks, escapes or other controls.
  @Matches(/^\P{Cc}*$/u, { message: '$property must not contain control characters' })
  name!: string;

  @ApiProperty({ enum: OPERATOR_SCOPES, isArray: true, example: ['read', 'dispatch'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(OPERATOR_SCOPES.length)
  @IsIn(OPERATOR_SCOPES, { each: true })
  scopes!: OperatorScope[];
}
