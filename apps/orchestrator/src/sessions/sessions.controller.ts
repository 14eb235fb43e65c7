import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import {
  HEADERS,
  idempotencyKeySchema,
  listQuerySchema,
  spawnRequestSchema,
  type KillResponse,
  type ListResponse,
  type SessionStatusResponse,
  type SpawnResponse,
} from '@mosaic/orchestrator-contract';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { parseOrThrow } from '../http/validation';
import { SessionsService } from './sessions.service';

const idempotencyHeaderSchema = z.object({ 'Idempotency-Key': idempotencyKeySchema.optional() });

@Controller('orchestrator/sessions')
@UseGuards(ApiKeyGuard)
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  /** `201` for a new session, `200` when an earlier request with the same Idempotency-Key is replayed. */
  @Post('spawn')
  async spawn(
    @Body() body: unknown,
    @Headers(HEADERS.idempotencyKey) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SpawnResponse> {
    const headers = parseOrThrow(idempotencyHeaderSchema, { 'Idempotency-Key': idempotencyKey });
    const request = parseOrThrow(spawnRequestSchema, body);
    const result = await this.sessions.spawn(request, headers['Idempotency-Key']);
    void reply.status(result.replayed ? 200 : 201);
    return result.value;
  }

  @Get(':id/status')
  status(@Param('id') id: string): SessionStatusResponse {
    return this.sessions.status(id);
  }

  @Post(':id/kill')
  @HttpCode(200)
  kill(@Param('id') id: string): Promise<KillResponse> {
    return this.sessions.kill(id);
  }

  @Get()
  list(@Query() query: unknown): ListResponse {
    return this.sessions.list(parseOrThrow(listQuerySchema, query));
  }
}
