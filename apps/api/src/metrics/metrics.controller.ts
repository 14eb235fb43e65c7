import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiMetrics } from './api-metrics';

/** Prometheus scrapes, open like `/health`. Not part of the contract, so not in the OpenAPI document. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: ApiMetrics) {}

  @Get()
  scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    // Fastify's reply is thenable; setting a header needs no waiting.
    void reply.type(this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
