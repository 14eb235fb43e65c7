import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { ApiMetrics } from '../metrics/api-metrics';
import { CallbackRepository } from './callback.repository';

/** The callbacks' gauges, read at scrape time. */
@Injectable()
export class CallbackGauges {
  constructor(metrics: ApiMetrics, callbacks: CallbackRepository) {
    new Gauge({
      name: 'mosaic_callbacks_queued',
      help: 'Callbacks waiting to be stored (bounded; past the bound they are answered 503)',
      registers: [metrics.registry],
      collect() {
        this.set(callbacks.queuedCallbacks);
      },
    });
  }
}
