import { Module } from '@nestjs/common';
import { OrchestratorGatewayModule } from '../orchestrator-gateway/orchestrator-gateway.module';
import { DispatchController } from './dispatch.controller';
import { TaskDispatcherService } from './task-dispatcher.service';

@Module({
  imports: [OrchestratorGatewayModule],
  controllers: [DispatchController],
  providers: [TaskDispatcherService],
  exports: [TaskDispatcherService],
})
export class DispatcherModule {}
