import { Controller, Get } from '@nestjs/common';
import type { OrchestratorHealth } from '@mosaic/orchestrator-contract';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { SessionsService } from '../sessions/sessions.service';

@Controller('health')
export class HealthController {
  constructor(
    private readonly config: OrchestratorConfig,
    private readonly sessions: SessionsService,
  ) {}

  @Get()
  health(): OrchestratorHealth {
    return { status: 'ok', version: this.config.version, active_sessions: this.sessions.activeSessions() };
  }
}
