import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  HEADERS,
  LIMITS,
  SESSION_STATUSES,
  wireSchemaRef,
  cancelRequestSchema,
  idempotencyKeySchema,
  listQuerySchema,
  spawnRequestSchema,
  type CancelResponse,
  type KillResponse,
  type ListResponse,
  type SessionStatusResponse,
  type SpawnResponse,
} from '@mosaic/orchestrator-contract';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { parseOrThrow } from '../http/validation';
import { API_KEY_SCHEME, ApiErrorResponses, ApiWireResponse } from '../openapi/openapi';
import { SessionsService } from './sessions.service';

const idempotencyHeaderSchema = z.object({ 'Idempotency-Key': idempotencyKeySchema.optional() });

@ApiTags('sessions')
@ApiBearerAuth(API_KEY_SCHEME)
@ApiErrorResponses({ 401: { when: 'no valid API key (Authorization: Bearer <ORCHESTRATOR_API_KEY>)', code: 'unauthorized' } })
@Controller('orchestrator/sessions')
@UseGuards(ApiKeyGuard)
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  /** `201` for a new session, `200` when an earlier request with the same Idempotency-Key is replayed. */
  @Post('spawn')
  @ApiOperation({ summary: 'Start an agent session for a task' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: `1..${LIMITS.idempotencyKeyMaxLength} characters; a repeated key returns the original session` })
  @ApiBody({ schema: wireSchemaRef('SpawnRequest') })
  @ApiWireResponse(201, 'SpawnResponse', 'the session was started')
  @ApiWireResponse(200, 'SpawnResponse', 'the Idempotency-Key was seen before with the same body: the original session, nothing new started')
  @ApiErrorResponses({
    400: { when: 'invalid body or Idempotency-Key; the message names the field', code: 'bad_request' },
    413: { when: `body over ${LIMITS.spawnBodyMaxBytes / 1024} KiB`, code: 'payload_too_large' },
    422: { when: 'the Idempotency-Key was used before with a different body', code: 'idempotency_key_reused' },
    503: { when: 'at capacity, or shutting down (`shutting_down`); with `Retry-After`', code: 'at_capacity' },
  })
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
  @ApiOperation({ summary: 'A session\'s status' })
  @ApiWireResponse(200, 'SessionStatusResponse', 'the session')
  @ApiErrorResponses({ 404: { when: 'no session with this id (ids from before a restart included)', code: 'not_found' } })
  status(@Param('id') id: string): SessionStatusResponse {
    return this.sessions.status(id);
  }

  @Post(':id/kill')
  @HttpCode(200)
  @ApiOperation({ summary: 'Kill a session\'s agent and every process it started', description: 'Idempotent: answers once they are gone.' })
  @ApiWireResponse(200, 'KillResponse', '`killed`, or the terminal status the session already had')
  @ApiErrorResponses({ 404: { when: 'no session with this id', code: 'not_found' } })
  kill(@Param('id') id: string): Promise<KillResponse> {
    return this.sessions.kill(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Ask a session\'s agent to stop, and kill what is left after a grace period',
    description: `SIGTERM to the agent and every process it started, SIGKILL to those still alive after \`grace_ms\` (default CANCEL_GRACE_MS). Idempotent: answers once they are all gone; a second cancel waits for the first one's end.`,
  })
  @ApiBody({ schema: wireSchemaRef('CancelRequest'), required: false })
  @ApiWireResponse(200, 'KillResponse', '`cancelled`, or the terminal status the session already had')
  @ApiErrorResponses({
    400: { when: `invalid body (\`grace_ms\`: 0..${LIMITS.cancelGraceMaxMs}); the message names the field`, code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
  })
  cancel(@Param('id') id: string, @Body() body: unknown): Promise<CancelResponse> {
    const request = parseOrThrow(cancelRequestSchema, body ?? {});
    return this.sessions.cancel(id, request.grace_ms);
  }

  @Get()
  @ApiOperation({ summary: 'Sessions, newest first, a page at a time' })
  @ApiQuery({ name: 'status', required: false, enum: SESSION_STATUSES })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: LIMITS.listMaxLimit, default: LIMITS.listDefaultLimit } })
  @ApiQuery({ name: 'cursor', required: false, description: 'the `next_cursor` of the previous page' })
  @ApiQuery({
    name: 'idempotency_key',
    required: false,
    description: 'only the session a spawn with this Idempotency-Key started (none while that spawn is still starting its agent): one page, no `cursor`',
  })
  @ApiWireResponse(200, 'ListResponse', 'one page; following `next_cursor` visits every session once')
  @ApiErrorResponses({ 400: { when: 'invalid query, or a cursor from before a restart', code: 'bad_request' } })
  list(@Query() query: unknown): ListResponse {
    return this.sessions.list(parseOrThrow(listQuerySchema, query));
  }
}
