import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DailyUsage } from '@mosaic/orchestrator-contract';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { ApiConfig } from '../config/api-config';
import { ApiWireResponse } from '../openapi/wire-decorators';
import { BudgetRepository } from './budget.repository';

@ApiTags('usage')
@Controller('usage')
export class UsageController {
  constructor(
    private readonly budgets: BudgetRepository,
    private readonly config: ApiConfig,
  ) {}

  @Get('today')
  @OperatorAuth('read')
  @ApiOperation({
    summary: 'What all agents spent today (UTC), and the daily cost limit',
    description: 'Dispatches are refused with `429 daily_budget_exhausted` once `cost_usd` reaches the limit.',
  })
  @ApiWireResponse(200, 'DailyUsage')
  async today(): Promise<DailyUsage> {
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
