import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { BudgetsModule } from '../budgets/budgets.module';
import { SessionsModule } from '../sessions/sessions.module';
import { DispatchController } from './dispatch.controller';
import { TaskDispatcherService } from './task-dispatcher.service';

@Module({
  imports: [SessionsModule, AuthModule, BudgetsModule],
  controllers: [DispatchController],
  providers: [TaskDispatcherService],
  exports: [TaskDispatcherService],
})
export class DispatcherModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(DispatchController);
  }
}
