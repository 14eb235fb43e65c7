import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics, type EventStreamKind } from '../metrics/api-metrics';
import { SessionsService } from '../sessions/sessions.service';
import { SessionEventStreams } from './session-event-streams';
import { SessionListStreams } from './session-list-streams';
import { SseStream } from './sse-stream';

/** How long a stream's client has to read what is buffered once the API ends the stream. */
const END_GRACE_MS = 5_000;

/** Opens the live streams: takes the response over from Fastify, and hands the stream to its feed. */
@Injectable()
export class SessionStreamsService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly sessionEvents: SessionEventStreams,
    private readonly sessionList: SessionListStreams,
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
  ) {}

  async followSession(id: string, afterSequence: number, reply: FastifyReply): Promise<void> {
    // Before the stream opens, so that an unknown session is an ordinary 404.
    await this.sessions.require(id);
    // The stream lives on after this request handler returns; follow logs its own failures.
    void this.sessionEvents.follow(id, { sequence: afterSequence, rowId: null }, this.open(reply, 'session_events'));
  }

  followSessions(reply: FastifyReply): void {
    this.sessionList.add(this.open(reply, 'sessions'));
  }

  private open(reply: FastifyReply, kind: EventStreamKind): SseStream {
    reply.hijack();
    const stream = new SseStream(reply.raw, { ...this.config.streams, endGraceMs: END_GRACE_MS });
    const ended = this.metrics.streamOpened(kind);
    // The metric counts the stream as closed whenever its client goes.
    void stream.done.then(ended);
    return stream;
  }
}
