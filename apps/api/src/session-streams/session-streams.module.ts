import { type MiddlewareConsumer, Module, type NestModule, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { MetricsModule } from '../metrics/metrics.module';
import { SessionsModule } from '../sessions/sessions.module';
import { SessionEventStreams } from './session-event-streams';
import { SessionListStreams } from './session-list-streams';
import { SessionNotifications } from './session-notifications';
import { SessionStreamsController } from './session-streams.controller';
import { SessionStreamsService } from './session-streams.service';
import { StreamRegistry } from './stream-registry';

/**
 * Live streams of sessions and their events (Server-Sent Events), fed by
 * PostgreSQL's LISTEN/NOTIFY so that they work across API instances, and
 * guarded by one registry: caps, maximum life, the end of a revoked key's streams.
 */
@Module({
  imports: [SessionsModule, MetricsModule, AuthModule],
  controllers: [SessionStreamsController],
  providers: [SessionNotifications, SessionEventStreams, SessionListStreams, StreamRegistry, SessionStreamsService],
})
export class SessionStreamsModule implements NestModule, OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly notifications: SessionNotifications,
    private readonly sessionEvents: SessionEventStreams,
    private readonly sessionList: SessionListStreams,
    private readonly registry: StreamRegistry,
  ) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(SessionStreamsController);
  }

  onModuleInit(): void {
    this.notifications.listen(this.sessionEvents);
    this.notifications.listen(this.sessionList);
    this.notifications.listenForRevocations(this.registry);
    // Open streams would hold the server's close until the shutdown grace runs out; their clients resume elsewhere.
    this.adapterHost.httpAdapter.getInstance<FastifyInstance>().addHook('preClose', async () => {
      this.sessionEvents.endAll();
      this.sessionList.endAll();
    });
  }
}
