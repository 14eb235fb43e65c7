import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { OrchestratorHealth } from '@mosaic/orchestrator-contract';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { ApiWireResponse } from '../openapi/openapi';
import { SessionRunner } from '../agents/session-runner';
import { SESSION_STORE, type SessionStore } from '../store/session-store';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly config: OrchestratorConfig,
    private readonly runner: SessionRunner,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
  ) {}

  /** Two reads of the store: the cluster's queue depth and its live nodes. A store that does not answer fails the probe. */
  @Get()
  @ApiOperation({ summary: "Liveness, this node's active sessions, and the cluster: its live nodes and its queue depth" })
  @ApiWireResponse(200, 'OrchestratorHealth', 'the service is up')
  async health(): Promise<OrchestratorHealth> {
    const [queued, nodes] = await Promise.all([this.store.countPending(), this.store.liveNodes()]);
    return {
      status: 'ok',
      version: this.config.version,
      active_sessions: this.runner.activeSessions,
      node: this.config.nodeId,
      queued_sessions: queued,
      nodes: nodes.map((node) => ({ id: node.id, active_sessions: node.activeSessions, capacity: node.capacity })),
    };
  }
}
