import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { SessionsModule } from '../sessions/sessions.module';
import { DispatchController } from './dispatch.controller';
import { TaskDispatcherService } from './task-dispatcher.service';

@Module({
  imports: [SessionsModule],
  controllers: [DispatchController],
  providers: [TaskDispatcherService],
  exports: [TaskDispatcherService],
})
export class DispatcherModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(DispatchController);
  }
}
