import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { SessionsModule } from '../sessions/sessions.module';
import { TaskRepository } from './task.repository';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({
  imports: [SessionsModule, AuthModule],
  controllers: [TasksController],
  providers: [TaskRepository, TasksService],
  exports: [TaskRepository],
})
export class TasksModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(TasksController);
  }
}
