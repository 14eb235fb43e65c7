import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { ApiMetrics } from '../metrics/api-metrics';
import type { CircuitStateName } from '@mosaic/orchestrator-contract';
import { OrchestratorClient } from './orchestrator.client';

/** Isolated is a breaker held open by hand: to an alert it is as open as open. */
const CIRCUIT_STATE_VALUES: Record<CircuitStateName, number> = { closed: 0, half_open: 1, open: 2, isolated: 2 };

/** `mosaic_orchestrator_circuit_state`, read at scrape time. */
@Injectable()
export class CircuitStateGauge {
  constructor(metrics: ApiMetrics, client: OrchestratorClient) {
    new Gauge({
      name: 'mosaic_orchestrator_circuit_state',
      help: 'The orchestrator circuit breaker: 0 closed, 1 half-open, 2 open',
      registers: [metrics.registry],
      collect() {
        this.set(CIRCUIT_STATE_VALUES[client.circuitState]);
      },
    });
  }
}
