import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { ApiKeyGuard } from './auth/api-key.guard';
import { CallbackDelivery } from './callbacks/callback-delivery';
import { ClusterNode } from './cluster/cluster-node';
import { ClusterSigner } from './cluster/cluster-signer';
import { NodeForwarder } from './cluster/node-forwarder';
import { NodeLeases } from './cluster/node-leases';
import { SessionQueue } from './cluster/session-queue';
import { OrchestratorConfig } from './config/orchestrator-config';
import { HealthController } from './health/health.controller';
import { ErrorFilter } from './http/error.filter';
import { MetricsController } from './metrics/metrics.controller';
import { OrchestratorMetrics } from './metrics/orchestrator-metrics';
import { RequestMetricsHook } from './metrics/request-metrics.hook';
import { loggerParams } from '@mosaic/observability';
import { SessionGauges } from './sessions/session-gauges';
import { SessionsController } from './sessions/sessions.controller';
import { AGENT_ADAPTERS, AgentAdapters } from './agents/adapters/agent-adapters';
import { SessionRunner } from './agents/session-runner';
import { SessionsService } from './sessions/sessions.service';
import type { QueueConnection } from './store/queue-connection';
import { sessionStoreProvider } from './store/session-store.provider';

@Module({})
export class AppModule {
  /**
   * The configuration is loaded before the module exists, so that a bad environment
   * stops start-up with a plain message; so is the queue store (an embedded
   * PostgreSQL is a process of its own, started and stopped by main.ts).
   */
  static register(config: OrchestratorConfig, queue: QueueConnection): DynamicModule {
    return {
      module: AppModule,
      imports: [LoggerModule.forRoot(loggerParams(config.logLevel))],
      controllers: [HealthController, SessionsController, MetricsController],
      providers: [
        { provide: OrchestratorConfig, useValue: config },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: ClusterSigner, useValue: new ClusterSigner(config.clusterKey) },
        { provide: AgentAdapters, useValue: new AgentAdapters(config, AGENT_ADAPTERS, config.agentPrices) },
        ApiKeyGuard,
        sessionStoreProvider(queue),
        { provide: SessionQueue, useFactory: () => SessionQueue.open(queue) },
        CallbackDelivery,
        SessionRunner,
        NodeLeases,
        NodeForwarder,
        ClusterNode,
        SessionsService,
        OrchestratorMetrics,
        SessionGauges,
        RequestMetricsHook,
      ],
    };
  }
}
