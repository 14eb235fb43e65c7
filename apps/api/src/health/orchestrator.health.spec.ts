import { Test } from '@nestjs/testing';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { CircuitStateName, OrchestratorHealth } from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { MALFORMED_ANSWER_CODE, OrchestratorClient } from '../orchestrator-gateway/orchestrator.client';
import { OrchestratorError } from '../orchestrator-gateway/orchestrator.errors';
import { OrchestratorHealthIndicator } from './orchestrator.health';

interface FakeClient {
  health: jest.Mock<Promise<{ health: OrchestratorHealth; latencyMs: number }>, []>;
  circuitState: CircuitStateName;
}

describe('OrchestratorHealthIndicator', () => {
  let client: FakeClient;
  let indicator: OrchestratorHealthIndicator;

  beforeEach(async () => {
    client = { health: jest.fn(), circuitState: 'closed' };
    const moduleRef = await Test.createTestingModule({
      providers: [
        OrchestratorHealthIndicator,
        HealthIndicatorService,
        { provide: OrchestratorClient, useValue: client },
        { provide: ApiConfig, useValue: ApiConfig.fromEnvironment({ ORCHESTRATOR_HEALTH_TIMEOUT_MS: '20' }) },
      ],
    }).compile();
    indicator = moduleRef.get(OrchestratorHealthIndicator);
  });

  it('is up with latency, active sessions, version and circuit state', async () => {
    client.health.mockResolvedValue({ health: { status: 'ok', version: '1.4.0', active_sessions: 3 }, latencyMs: 12 });

    await expect(indicator.isHealthy()).resolves.toEqual({
      orchestrator: { status: 'up', latency_ms: 12, active_sessions: 3, version: '1.4.0', circuit: 'closed' },
    });
  });

  it('reports the cluster of a v2 orchestrator: its live nodes, their sessions and room, and the queue', async () => {
    client.health.mockResolvedValue({
      health: {
        status: 'ok',
        version: '2.0.0',
        active_sessions: 3,
        node: 'a',
        queued_sessions: 12,
        nodes: [
          { id: 'a', active_sessions: 3, capacity: 4 },
          { id: 'b', active_sessions: 4, capacity: 4 },
        ],
      },
      latencyMs: 5,
    });

    await expect(indicator.isHealthy()).resolves.toEqual({
      orchestrator: {
        status: 'up',
        latency_ms: 5,
        active_sessions: 7,
        capacity: 8,
        queued_sessions: 12,
        nodes: [
          { id: 'a', active_sessions: 3, capacity: 4 },
          { id: 'b', active_sessions: 4, capacity: 4 },
        ],
        version: '2.0.0',
        circuit: 'closed',
      },
    });
  });

  it('reports under the key it is given', async () => {
    client.health.mockResolvedValue({ health: { status: 'ok', version: '1', active_sessions: 0 }, latencyMs: 1 });

    await expect(indicator.isHealthy('upstream')).resolves.toHaveProperty('upstream.status', 'up');
  });

  it.each([
    [
      'unreachable',
      new OrchestratorError('unreachable', 'orchestrator at http://10.0.0.7:3100 is unreachable (ECONNREFUSED)'),
      'the orchestrator is unreachable',
    ],
    [
      'timeout',
      new OrchestratorError('timeout', 'orchestrator did not answer GET /health within 20 ms'),
      'the orchestrator did not answer within 20 ms',
    ],
    ['circuit_open', new OrchestratorError('circuit_open', 'open'), 'the circuit breaker is open after repeated orchestrator failures'],
    [
      'rejected',
      new OrchestratorError('rejected', 'answered 401', { status: 401, code: 'unauthorized', message: 'bad key' }),
      'the orchestrator answered 401 unauthorized',
    ],
    [
      'bad_answer',
      new OrchestratorError('rejected', 'malformed', { status: 200, code: MALFORMED_ANSWER_CODE, message: 'version: required' }),
      'the orchestrator health answer does not match the contract',
    ],
  ])('is down with reason %s', async (reason, error, message) => {
    client.health.mockRejectedValue(error);
    client.circuitState = reason === 'circuit_open' ? 'open' : 'closed';

    await expect(indicator.isHealthy()).resolves.toEqual({
      orchestrator: { status: 'down', reason, message, circuit: client.circuitState },
    });
  });

  it('is down with reason timeout when the client never answers', async () => {
    client.health.mockReturnValue(new Promise(() => undefined));

    await expect(indicator.isHealthy()).resolves.toEqual({
      orchestrator: { status: 'down', reason: 'timeout', message: 'the orchestrator did not answer within 20 ms', circuit: 'closed' },
    });
  });

  it('does not echo an unexpected error', async () => {
    client.health.mockRejectedValue(new TypeError('secret internals at /srv/app'));

    const result = await indicator.isHealthy();

    expect(result).toEqual({
      orchestrator: {
        status: 'down',
        reason: 'unreachable',
        message: 'the orchestrator health check failed unexpectedly',
        circuit: 'closed',
      },
    });
  });
});
