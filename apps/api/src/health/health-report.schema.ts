import type { SchemaObject } from '@nestjs/swagger';

/** `@nestjs/terminus`'s report, as `/health` and `/health/orchestrator` send it with 200 and 503 alike. */
export const HEALTH_REPORT_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['status', 'info', 'error', 'details'],
  properties: {
    status: { type: 'string', enum: ['ok', 'error', 'shutting_down'] },
    info: { type: 'object', additionalProperties: { type: 'object' }, nullable: true },
    error: { type: 'object', additionalProperties: { type: 'object' }, nullable: true },
    details: { type: 'object', additionalProperties: { type: 'object' } },
  },
};

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
};
const ORCHESTRATOR_DOWN = { status: 'down', reason: 'unreachable', message: 'the orchestrator is unreachable', circuit: 'closed' };

export const HEALTHY_EXAMPLE = {
  status: 'ok',
  info: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
  error: {},
  details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_UP },
};

export const UNHEALTHY_EXAMPLE = {
  status: 'error',
  info: { database: { status: 'up' } },
  error: { orchestrator: ORCHESTRATOR_DOWN },
  details: { database: { status: 'up' }, orchestrator: ORCHESTRATOR_DOWN },
};
