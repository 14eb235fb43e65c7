import { Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import type { CancelRequest } from '@mosaic/orchestrator-contract';
import type { ListSessionsDto } from './list-sessions.dto';
import type { Actor, SessionPage, TrackedSession } from './session';
import { type EventPage, SessionEventRepository } from './session-event.repository';
import { OrchestratorSessionRepository } from './session.repository';
import { SessionSyncService } from './session-sync.service';

/** What operators do with sessions: list them, look at one (and its events), kill or cancel one. */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: OrchestratorSessionRepository,
    private readonly sync: SessionSyncService,
    private readonly events: SessionEventRepository,
  ) {}

  list(query: ListSessionsDto): Promise<SessionPage> {
    return this.sessions.list(query);
  }

  async getWithEvents(id: string, refresh: boolean) {
    const found = await this.require(id);
    const session = refresh ? await this.sync.refresh(found) : found;
    // Read after the row, the events may be ahead of it (a status event stored in between): a client shows the
    // later of the two (the page does), since its stream resumes after the last event read.
    const { events, truncated } = await this.events.latest(id);
    return { session, events, truncated };
  }

  async eventPage(id: string, afterSequence: number, limit: number): Promise<EventPage> {
    await this.require(id);
    return this.events.page(id, afterSequence, limit);
  }

  async kill(id: string, actor: Actor): Promise<TrackedSession> {
    return this.sync.kill(await this.require(id), actor);
  }

  async cancel(id: string, actor: Actor, request: CancelRequest): Promise<TrackedSession> {
    return this.sync.cancel(await this.require(id), actor, request);
  }

  async require(id: string): Promise<TrackedSession> {
    const session = await this.sessions.findById(id);
    if (session === undefined) throw new AppError('not_found', `session ${id} not found`);
    return session;
  }
}
