import { z } from 'zod';
import { clusterNodeSchema } from './gateway';

/*
 * `GET /health` and `GET /health/orchestrator` (contract section 4):
 * `@nestjs/terminus`'s report, with 200 and 503 alike.
 */

/** Why the API holds the orchestrator down. */
export const ORCHESTRATOR_DOWN_REASONS = ['unreachable', 'timeout', 'bad_answer', 'circuit_open', 'rejected'] as const;
export type OrchestratorDownReason = (typeof ORCHESTRATOR_DOWN_REASONS)[number];

/** The API's circuit breaker on its calls to the orchestrator; `isolated` is held open by hand. */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open', 'isolated'] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];

const circuitSchema = z.enum(CIRCUIT_STATES);

/**
 * The orchestrator's check: up while any configured node answers, with the
 * cluster as that node reports it (a v1 orchestrator reports neither
 * `capacity` nor `nodes`); its messages are the API's own, short ones.
 */
export const orchestratorCheckSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('up'),
    latency_ms: z.number().min(0),
    active_sessions: z.int().min(0),
    capacity: z.int().min(0).optional(),
    queued_sessions: z.int().min(0).optional(),
    nodes: z.array(clusterNodeSchema).optional(),
    version: z.string(),
    circuit: circuitSchema,
  }),
  z.object({
    status: z.literal('down'),
    reason: z.enum(ORCHESTRATOR_DOWN_REASONS),
    message: z.string(),
    circuit: circuitSchema,
  }),
]);
export type OrchestratorCheck = z.infer<typeof orchestratorCheckSchema>;

export const databaseCheckSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('up') }),
  z.object({ status: z.literal('down'), reason: z.enum(['timeout', 'unreachable']), message: z.string() }),
]);
export type DatabaseCheck = z.infer<typeof databaseCheckSchema>;

/** The checks by name; `/health/orchestrator` runs only the orchestrator's. */
const checksSchema = z.object({ database: databaseCheckSchema.optional(), orchestrator: orchestratorCheckSchema.optional() });

const ORCHESTRATOR_UP = {
  status: 'up',
  latency_ms: 4,
  active_sessions: 67,
  capacity: 128,
  queued_sessions: 12,
  nodes: [
    { id: 'orchestrator-a:3100', active_sessions: 3, capacity: 64 },
    { id: 'orchestrator-b:3100', active_sessions: 64, capacity: 64 },
  ],
  version: '0.1.0',
  circuit: 'closed',
} as const;
const ORCHESTRATOR_DOWN = { status: 'down', reason: 'unreachable', message: 'the orchestrator is unreachable', circuit: 'closed' } as const;

/** What these endpoints report when every check is up, and when one is down. */
export const HEALTH_EXAMPLES = {
  healthy: {
    status: 'ok',
    info: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
    error: {},
    details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
  },
  unhealthy: {
    status: 'error',
    info: { database: { status: 'up' } },
    error: { orchestrator: ORCHESTRATOR_DOWN },
    details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_DOWN },
  },
} as const;

export const healthReportSchema = z
  .object({
    status: z.enum(['ok', 'error', 'shutting_down']),
    info: checksSchema.nullable().meta({ description: 'the checks that are up' }),
    error: checksSchema.nullable().meta({ description: 'the checks that are down' }),
    details: checksSchema.meta({ description: 'every check' }),
  })
  .meta({ description: "`@nestjs/terminus`'s report: 200 when every check is up, 503 otherwise" });
export type HealthReport = z.infer<typeof healthReportSchema>;
