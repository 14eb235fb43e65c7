// class-transformer's @Type reads design-time types, which only exist with reflect-metadata loaded.
import 'reflect-metadata';
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
import {
  TASK_PRIORITIES,
  agentSchema,
  hasAtMostMicroUnits,
  repositorySchema,
  type AgentRequest,
  type JsonObject,
  type RepositoryRequest,
  type TaskPriority,
} from '@mosaic/orchestrator-contract';
import { ConformsTo } from '../http/conforms-to.validator';
import { IsStorableJson, IsStorableText } from '../http/storable.validators';

/** A number of at most 6 decimal places, as a cost column keeps it (`hasAtMostMicroUnits`). */
function HasAtMostMicroUnits(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasAtMostMicroUnits',
      validator: {
        validate: (value: unknown) => typeof value !== 'number' || hasAtMostMicroUnits(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must have at most 6 decimal places`,
      },
    },
    options,
  );
}

/** A session's budget (contract v2): each limit a positive number, each optional. */
export class BudgetDto {
  @IsOptional()
  @IsInt()
  @IsPositive()
  @Max(1e12)
  max_tokens?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @HasAtMostMicroUnits()
  @IsPositive()
  @Max(1e9)
  max_cost_usd?: number;

  @IsOptional()
  @IsInt()
  @IsPositive()
  @Max(2_147_483_647)
  max_duration_s?: number;
}

/** The body of `POST /tasks` as Nest validates it; the contract's `createTaskSchema` documents it, and agrees (see the spec). */
export class CreateTaskDto {
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  @IsStorableText()
  title!: string;

  @IsOptional()
  @IsString()
  @MaxLength(20_000)
  @IsStorableText()
  description?: string;

  @IsOptional()
  @IsIn(TASK_PRIORITIES)
  priority?: TaskPriority;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(100, { each: true })
  @IsStorableText({ each: true })
  labels?: string[];

  @IsOptional()
  // Taken as sent: class-transformer's conversion of a plain object drops keys such as `valueOf` or `toString`.
  @Transform(({ obj }: { obj: { metadata?: unknown } }) => obj.metadata)
  @IsObject()
  @IsStorableJson()
  metadata?: JsonObject;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => BudgetDto)
  budget?: BudgetDto;

  // (v3) Checked against the contract's own schemas, taken as sent (see metadata).
  @IsOptional()
  @Transform(({ obj }: { obj: { agent?: unknown } }) => obj.agent)
  @ConformsTo(agentSchema)
  agent?: AgentRequest;

  @IsOptional()
  @Transform(({ obj }: { obj: { repository?: unknown } }) => obj.repository)
  @ConformsTo(repositorySchema)
  repository?: RepositoryRequest;
}
