import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { OrchestratorHealth } from '@mosaic/orchestrator-contract';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { ApiWireResponse } from '../openapi/openapi';
import { SessionsService } from '../sessions/sessions.service';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly config: OrchestratorConfig,
    private readonly sessions: SessionsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness and the number of active sessions' })
  @ApiWireResponse(200, 'OrchestratorHealth', 'the service is up')
  health(): OrchestratorHealth {
    return { status: 'ok', version: this.config.version, active_sessions: this.sessions.activeSessions() };
  }
}
