import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics, type EventStreamKind } from '../metrics/api-metrics';
import { SessionsService } from '../sessions/sessions.service';
import { SessionEventStreams } from './session-event-streams';
import { SessionListStreams } from './session-list-streams';
import { SseStream } from './sse-stream';
import { type StreamHolder, StreamRegistry, type StreamSlot } from './stream-registry';

/** How long a stream's client has to read what is buffered once the API ends the stream. */
const END_GRACE_MS = 5_000;

/** Opens the live streams: keeps a place for each within the caps, takes the response over from Fastify, and hands the stream to its feed. */
@Injectable()
export class SessionStreamsService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly sessionEvents: SessionEventStreams,
    private readonly sessionList: SessionListStreams,
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
    private readonly registry: StreamRegistry,
  ) {}

  async followSession(id: string, afterSequence: number, holder: StreamHolder, reply: FastifyReply): Promise<void> {
    // First of all, so that a refused stream costs no read.
    const slot = this.registry.reserve(holder);
    try {
      // Before the stream opens, so that an unknown session is an ordinary 404.
      await this.sessions.require(id);
    } catch (error) {
      slot.release();
      throw error;
    }
    // The stream lives on after this request handler returns; follow logs its own failures.
    void this.sessionEvents.follow(id, { sequence: afterSequence, rowId: null }, this.open(reply, 'session_events', slot));
  }

  followSessions(holder: StreamHolder, reply: FastifyReply): void {
    this.sessionList.add(this.open(reply, 'sessions', this.registry.reserve(holder)));
  }

  private open(reply: FastifyReply, kind: EventStreamKind, slot: StreamSlot): SseStream {
    reply.hijack();
    const stream = new SseStream(reply.raw, { ...this.config.streams, endGraceMs: END_GRACE_MS });
    const ended = this.metrics.streamOpened(kind);
    // The metric counts the stream as closed whenever its client goes.
    void stream.done.then(ended);
    slot.hold(stream);
    return stream;
  }
}
