import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { ClusterNode, OrchestratorCheck, OrchestratorDownReason, OrchestratorHealth } from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { MALFORMED_ANSWER_CODE, OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { DeadlineExceeded, withDeadline } from './deadline';

/**
 * The client enforces the health timeout itself; this margin only lets its
 * own, more precise failure win the race, while still bounding the probe if
 * the client ever hangs.
 */
const DEADLINE_MARGIN_MS = 250;

/**
 * Orchestrator reachability for `/health`: up while any configured node
 * answers, with the cluster as that node reports it (v2: its live nodes, their
 * capacity and the queue's depth; a v1 orchestrator reports none of these).
 * Its messages are its own, short ones: the endpoint is open, so it does not
 * echo URLs or the orchestrator's error texts.
 */
@Injectable()
export class OrchestratorHealthIndicator {
  constructor(
    private readonly client: OrchestratorClient,
    private readonly indicators: HealthIndicatorService,
    private readonly config: ApiConfig,
  ) {}

  async isHealthy(key = 'orchestrator'): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const limitMs = this.config.orchestrator.timeoutsMs.health;
    try {
      const { health, latencyMs } = await withDeadline(this.client.health(), limitMs + DEADLINE_MARGIN_MS);
      return indicator.up({
        latency_ms: latencyMs,
        ...clusterOf(health),
        version: health.version,
        circuit: this.client.circuitState,
      } satisfies Details<'up'>);
    } catch (error) {
      return indicator.down({ ...whyDown(error, limitMs), circuit: this.client.circuitState } satisfies Details<'down'>);
    }
  }
}

/** What the check reports beside its status (contract: `orchestratorCheckSchema`). */
type Details<Status extends OrchestratorCheck['status']> = Omit<Extract<OrchestratorCheck, { status: Status }>, 'status'>;

/** Sessions running and room across the cluster; a v1 answer only knows its own active sessions. */
function clusterOf(health: OrchestratorHealth) {
  if (health.nodes === undefined) {
    return {
      active_sessions: health.active_sessions,
      ...(health.queued_sessions === undefined ? {} : { queued_sessions: health.queued_sessions }),
    };
  }
  const nodes = health.nodes;
  const sum = (count: (node: ClusterNode) => number) => nodes.reduce((total, node) => total + count(node), 0);
  return {
    active_sessions: sum((node) => node.active_sessions),
    capacity: sum((node) => node.capacity),
    queued_sessions: health.queued_sessions ?? 0,
    nodes: nodes.map(({ id, active_sessions, capacity }) => ({ id, active_sessions, capacity })),
  };
}

function whyDown(error: unknown, limitMs: number): { reason: OrchestratorDownReason; message: string } {
  if (error instanceof DeadlineExceeded) {
    return { reason: 'timeout', message: `the orchestrator did not answer within ${limitMs} ms` };
  }
  if (!(error instanceof OrchestratorError)) {
    return { reason: 'unreachable', message: 'the orchestrator health check failed unexpectedly' };
  }
  switch (error.failure) {
    case 'unreachable':
      return { reason: 'unreachable', message: 'the orchestrator is unreachable' };
    case 'timeout':
      return { reason: 'timeout', message: `the orchestrator did not answer within ${limitMs} ms` };
    case 'circuit_open':
      return { reason: 'circuit_open', message: 'the circuit breaker is open after repeated orchestrator failures' };
    case 'rejected':
    case 'refused':
    case 'not_found':
    case 'queue_full':
      if (error.answer?.code === MALFORMED_ANSWER_CODE) {
        return { reason: 'bad_answer', message: 'the orchestrator health answer does not match the contract' };
      }
      return {
        reason: 'rejected',
        message: `the orchestrator answered ${error.answer ? `${error.answer.status} ${error.answer.code}` : 'with an error'}`,
      };
  }
}
