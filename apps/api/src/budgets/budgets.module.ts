import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { SessionsModule } from '../sessions/sessions.module';
import { BudgetEnforcer } from './budget-enforcer.service';
import { BudgetRepository } from './budget.repository';
import { BudgetWatcher } from './budget-watcher.service';
import { UsageController } from './usage.controller';

/** Budgets (contract v2): sessions that pass their task's budget are cancelled; the day's spend caps dispatches. */
@Module({
  imports: [SessionsModule, AuthModule],
  controllers: [UsageController],
  providers: [BudgetRepository, BudgetEnforcer, BudgetWatcher],
  exports: [BudgetRepository, BudgetEnforcer],
})
export class BudgetsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(UsageController);
  }
}
