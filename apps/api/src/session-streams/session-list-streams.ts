import { Injectable, Logger } from '@nestjs/common';
import { OrchestratorSessionRepository } from '../sessions/session.repository';
import { presentSession } from '../sessions/session.presenter';
import type { NotificationListener } from './session-notifications';
import type { SseStream } from './sse-stream';

/** Changed sessions read per statement. */
const READ_BATCH = 500;

/**
 * `GET /orchestrator/events/stream`: every session's changes, as the session
 * object, for live lists. Changes notified while a read runs are read
 * together by the next one, and each session is serialized once for all
 * streams. It keeps no history: a client that reconnects lists again, and
 * when this instance may have missed notifications its streams end, so that
 * their clients do.
 */
@Injectable()
export class SessionListStreams implements NotificationListener {
  private readonly logger = new Logger(SessionListStreams.name);
  private readonly streams = new Set<SseStream>();
  private readonly changed = new Set<string>();
  private reading = false;

  constructor(private readonly sessions: OrchestratorSessionRepository) {}

  add(stream: SseStream): void {
    this.streams.add(stream);
    // The stream leaves the set whenever its client goes.
    void stream.done.then(() => this.streams.delete(stream));
  }

  endAll(): void {
    for (const stream of this.streams) stream.end();
  }

  sessionEvents(): void {
    // Events alone do not change what a list shows; the session's own notification says when it does.
  }

  sessionChanged(sessionId: string): void {
    if (this.streams.size === 0) return;
    this.changed.add(sessionId);
    if (!this.reading) {
      this.reading = true;
      // One read loop at a time, in the background; readLoop logs its own failures.
      void this.readLoop().finally(() => (this.reading = false));
    }
  }

  resync(): void {
    this.endAll();
  }

  private async readLoop(): Promise<void> {
    while (this.changed.size > 0 && this.streams.size > 0) {
      const ids = [...this.changed].slice(0, READ_BATCH);
      for (const id of ids) this.changed.delete(id);
      let sessions;
      try {
        sessions = await this.sessions.findByIds(ids);
      } catch (error) {
        this.logger.warn(
          `reading changed sessions failed: ${(error as Error).message}; their streams end, so that their clients list again`,
        );
        this.changed.clear();
        this.endAll();
        return;
      }
      for (const session of sessions) {
        const data = JSON.stringify(presentSession(session));
        for (const stream of this.streams) stream.send({ event: 'session', data });
      }
    }
    this.changed.clear();
  }
}
