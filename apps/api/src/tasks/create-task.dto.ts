import { ApiSchema, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';
import { TASK_PRIORITIES, type JsonObject, type TaskPriority } from '@mosaic/orchestrator-contract';
import { IsStorableJson, IsStorableText } from '../http/storable.validators';

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
}
