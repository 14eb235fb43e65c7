import { randomUUID } from 'node:crypto';
// Type only, from the package's source: test/support is compiled by the apps' configurations too, where the package resolves from node_modules.
import type { CallbackEvent } from '../../packages/orchestrator-contract/src';
import type { Provider } from './api-app';
import { PrismaService } from '../../apps/api/src/database/prisma.service';
import { CallbackTokenService } from '../../apps/api/src/sessions/callback-token.service';
import { OrchestratorSessionRepository } from '../../apps/api/src/sessions/session.repository';

/** What the seeder writes with: the app's own services, so a seeded session is one the API could have made. */
export interface SeedServices {
  readonly prisma: PrismaService;
  readonly sessions: OrchestratorSessionRepository;
  readonly tokens: CallbackTokenService;
}

export interface SeededSession {
  readonly id: string;
  readonly taskId: string;
  /** `null` while the spawn is unconfirmed. */
  readonly orchestratorSessionId: string | null;
  /** The callback token, in plain text, as the orchestrator would have received it. */
  readonly token: string;
}

export interface SessionSeed {
  readonly title?: string;
  /** `spawning` leaves the spawn unconfirmed; `pending` (the default) and `running` record an orchestrator session. */
  readonly status?: 'spawning' | 'pending' | 'running';
  /** The orchestrator's session id to record; a new one by default. */
  readonly orchestratorSessionId?: string;
  /** When its callback token was issued (so when it expires). */
  readonly issuedAt?: Date;
  /** Whether its callbacks must be signed, as for a session the dispatcher spawned. */
  readonly signed?: boolean;
}

/** A task and a session dispatched for it, as a dispatch would have left them, without an orchestrator. */
export async function seedSession(services: SeedServices, seed: SessionSeed = {}): Promise<SeededSession> {
  const task = await services.prisma.task.create({ data: { title: seed.title ?? 'seeded task' } });
  const issued = services.tokens.issue(seed.issuedAt);
  const id = randomUUID();
  await services.sessions.createSpawning({
    id,
    taskId: task.id,
    requestedBy: null,
    actor: null,
    callbacksSigned: seed.signed ?? false,
    callbackTokenHash: issued.hash,
    callbackTokenExpiresAt: issued.expiresAt,
  });
  const status = seed.status ?? 'pending';
  if (status === 'spawning') return { id, taskId: task.id, orchestratorSessionId: null, token: issued.token };
  const orchestratorSessionId = seed.orchestratorSessionId ?? `orch-${randomUUID()}`;
  await services.sessions.recordSpawned(id, orchestratorSessionId, { status: 'pending', at: new Date() });
  if (status === 'running') await services.sessions.applyStatus(id, { status: 'running', at: new Date() });
  return { id, taskId: task.id, orchestratorSessionId, token: issued.token };
}

/** The seeder's services out of a running app. */
export function seedServicesOf(app: { get<T>(type: Provider<T>): T }): SeedServices {
  return { prisma: app.get(PrismaService), sessions: app.get(OrchestratorSessionRepository), tokens: app.get(CallbackTokenService) };
}

/** A progress callback of `session`, numbered `sequence`, as its orchestrator would send it now; `fields` replace any of it. */
export function progressEvent(session: SeededSession, sequence: number, fields: Partial<CallbackEvent> = {}): CallbackEvent {
  return {
    event_id: `${session.id}-${sequence}`,
    session_id: session.orchestratorSessionId ?? '',
    sequence,
    type: 'progress',
    timestamp: new Date().toISOString(),
    data: { message: `step ${sequence}` },
    ...fields,
  } as CallbackEvent;
}
