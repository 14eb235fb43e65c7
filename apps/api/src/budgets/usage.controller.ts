import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiSchema, ApiTags } from '@nestjs/swagger';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { ApiConfig } from '../config/api-config';
import { BudgetRepository } from './budget.repository';

@ApiSchema({ name: 'DailyUsage', description: 'what all agents spent today (UTC), against the daily limit' })
class DailyUsageSchema {
  @ApiProperty({ format: 'date', example: '2026-12-01' })
  day!: string;

  @ApiProperty({ example: 120000 })
  input_tokens!: number;

  @ApiProperty({ example: 30000 })
  output_tokens!: number;

  @ApiProperty({ description: 'US dollars', example: 0.81 })
  cost_usd!: number;

  @ApiProperty({ type: Number, nullable: true, description: 'MOSAIC_DAILY_COST_LIMIT_USD; `null` without one', example: 50 })
  daily_cost_limit_usd!: number | null;
}

@ApiTags('usage')
@Controller('usage')
export class UsageController {
  constructor(
    private readonly budgets: BudgetRepository,
    private readonly config: ApiConfig,
  ) {}

  @Get('today')
  @OperatorAuth('read')
  @ApiOperation({ summary: 'What all agents spent today (UTC), and the daily cost limit', description: 'Dispatches are refused with `429 daily_budget_exhausted` once `cost_usd` reaches the limit.' })
  @ApiOkResponse({ type: DailyUsageSchema })
  async today(): Promise<DailyUsageSchema> {
    const spent = await this.budgets.spentToday();
    return {
      day: spent.day,
      input_tokens: spent.inputTokens,
      output_tokens: spent.outputTokens,
      cost_usd: spent.costUsd,
      daily_cost_limit_usd: this.config.budgets.dailyCostLimitUsd ?? null,
    };
  }
}
