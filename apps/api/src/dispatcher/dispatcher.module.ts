import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { DispatchController } from './dispatch.controller';
import { TaskDispatcherService } from './task-dispatcher.service';

@Module({
  imports: [SessionsModule],
  controllers: [DispatchController],
  providers: [TaskDispatcherService],
  exports: [TaskDispatcherService],
})
export class DispatcherModule {}
