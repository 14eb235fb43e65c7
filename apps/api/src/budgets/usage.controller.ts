import { Controller, Get, HttpCode, Logger, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DailyUsage } from '@mosaic/orchestrator-contract';
import { CurrentOperator, OperatorAuth } from '../auth/operator-auth.guard';
import type { Operator } from '../auth/operator';
import { ApiConfig } from '../config/api-config';
import { ApiWireResponse } from '../openapi/wire-decorators';
import { BudgetRepository, type DaySpend } from './budget.repository';

@ApiTags('usage')
@Controller('usage')
export class UsageController {
  private readonly logger = new Logger(UsageController.name);

  constructor(
    private readonly budgets: BudgetRepository,
    private readonly config: ApiConfig,
  ) {}

  @Get('today')
  @OperatorAuth('read')
  @ApiOperation({
    summary: 'What all agents spent today (UTC), and the daily cost limit',
    description:
      'Dispatches are refused with `429 daily_budget_exhausted` once `cost_usd` reaches the limit. A session counts up to ' +
      "`SESSION_SPEND_CEILING_USD` or its task's `max_cost_usd`, whichever is lower; the rest is `uncounted_cost_usd`.",
  })
  @ApiWireResponse(200, 'DailyUsage')
  async today(): Promise<DailyUsage> {
    return this.present(await this.budgets.spentToday());
  }

  @Post('today/reset')
  @HttpCode(200)
  @OperatorAuth('admin')
  @ApiOperation({
    summary: "Reset the day's counter to zero (the administrator only)",
    description: 'Dispatches refused for the day resume. Who reset it and what it cleared is recorded, and shown as `last_reset`.',
  })
  @ApiWireResponse(200, 'DailyUsage', 'the day after the reset')
  async reset(@CurrentOperator() operator: Operator): Promise<DailyUsage> {
    const spent = await this.budgets.resetToday(operator.name);
    // Audit: the database keeps the record; the log line tells whoever watches the logs.
    this.logger.warn(
      `${operator.name} reset the usage of ${spent.day}, clearing ${spent.lastReset?.clearedCostUsd ?? 0} USD of counted cost`,
    );
    return this.present(spent);
  }

  private present(spent: DaySpend): DailyUsage {
    return {
      day: spent.day,
      input_tokens: spent.inputTokens,
      output_tokens: spent.outputTokens,
      cost_usd: spent.costUsd,
      uncounted_cost_usd: spent.uncountedCostUsd,
      last_reset:
        spent.lastReset === null
          ? null
          : { at: spent.lastReset.at.toISOString(), by: spent.lastReset.by, cleared_cost_usd: spent.lastReset.clearedCostUsd },
      daily_cost_limit_usd: this.config.budgets.dailyCostLimitUsd ?? null,
    };
  }
}
