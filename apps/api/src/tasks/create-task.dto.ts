import { ApiSchema, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Max,
  MaxLength,
  MinLength,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { TASK_PRIORITIES, type JsonObject, type TaskPriority } from '@mosaic/orchestrator-contract';
import { IsStorableJson, IsStorableText } from '../http/storable.validators';

/**
 * A number of at most 6 decimal places, as a cost column keeps it. class-validator's own
 * `maxDecimalPlaces` reads the digits after a '.', which JavaScript does not write for
 * 1e-7 (it throws) or writes short for 1.5e-7 (it passes, and the cost is stored as 0).
 */
function HasAtMostMicroUnits(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasAtMostMicroUnits',
      validator: {
        validate: (value: unknown) => typeof value !== 'number' || Number(value.toFixed(6)) === value,
        defaultMessage: (args) => `${args?.property ?? 'value'} must have at most 6 decimal places`,
      },
    },
    options,
  );
}

/** A session's budget (contract v2): each limit a positive number, each optional. */
@ApiSchema({ name: 'Budget', description: 'limits on each of the task\'s sessions; one that passes any is cancelled (`budget_exceeded`)' })
export class BudgetDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1e12, description: 'input and output tokens together', example: 200_000 })
  @IsOptional()
  @IsInt()
  @IsPositive()
  @Max(1e12)
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 0.000001, maximum: 1e9, description: 'US dollars', example: 5 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @HasAtMostMicroUnits()
  @IsPositive()
  @Max(1e9)
  max_cost_usd?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 2_147_483_647, description: 'seconds of running time, enforced even when the agent reports nothing', example: 3600 })
  @IsOptional()
  @IsInt()
  @IsPositive()
  @Max(2_147_483_647)
  max_duration_s?: number;
}

@ApiSchema({ name: 'CreateTask' })
export class CreateTaskDto {
  @ApiProperty({ minLength: 1, maxLength: 500, example: 'Summarise the quarterly report' })
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  @IsStorableText()
  title!: string;

  @ApiPropertyOptional({ maxLength: 20_000, example: 'Two pages, for the board.' })
  @IsOptional()
  @IsString()
  @MaxLength(20_000)
  @IsStorableText()
  description?: string;

  @ApiPropertyOptional({ enum: TASK_PRIORITIES, default: 'normal', example: 'high' })
  @IsOptional()
  @IsIn(TASK_PRIORITIES)
  priority?: TaskPriority;

  @ApiPropertyOptional({ type: [String], maxItems: 50, example: ['reports'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(100, { each: true })
  @IsStorableText({ each: true })
  labels?: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'sent to the agent; values under keys that look like secrets (`token`, `password`, …) are sent as `[REDACTED]`',
    example: { quarter: 'Q4' },
  })
  @IsOptional()
  // Taken as sent: class-transformer's conversion of a plain object drops keys such as `valueOf` or `toString`.
  @Transform(({ obj }: { obj: { metadata?: unknown } }) => obj.metadata)
  @IsObject()
  @IsStorableJson()
  metadata?: JsonObject;

  @ApiPropertyOptional({ type: BudgetDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => BudgetDto)
  budget?: BudgetDto;
}
