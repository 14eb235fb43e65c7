import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  HEADERS,
  LIMITS,
  SESSION_STATUSES,
  wireSchemaRef,
  idempotencyKeySchema,
  listQuerySchema,
  spawnRequestSchema,
  cancelRequestSchema,
  type KillResponse,
  type ListResponse,
  type SessionStatusResponse,
  type SpawnResponse,
} from '@mosaic/orchestrator-contract';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { FORWARDED_BY_HEADER } from '../cluster/node-forwarder';
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
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: `1..${LIMITS.idempotencyKeyMaxLength} characters; a repeated key returns the original session`,
  })
  @ApiBody({ schema: wireSchemaRef('SpawnRequest') })
  @ApiWireResponse(
    201,
    'SpawnResponse',
    'the session was accepted `pending`: it runs when a node of the cluster has room, highest priority first',
  )
  @ApiWireResponse(
    200,
    'SpawnResponse',
    'the Idempotency-Key was seen before with the same body: the original session, nothing new started',
  )
  @ApiErrorResponses({
    400: { when: 'invalid body or Idempotency-Key; the message names the field', code: 'bad_request' },
    413: { when: `body over ${LIMITS.spawnBodyMaxBytes / 1024} KiB`, code: 'payload_too_large' },
    422: { when: 'the Idempotency-Key was used before with a different body', code: 'idempotency_key_reused' },
    503: {
      when: 'the queue is full (MAX_QUEUED_SESSIONS), or this node is shutting down (`shutting_down`) or cannot reach the queue (`queue_unavailable`); with `Retry-After`',
      code: 'queue_full',
    },
  })
  async spawn(
    @Body() body: unknown,
    @Headers(HEADERS.idempotencyKey) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SpawnResponse> {
    const headers = parseOrThrow(idempotencyHeaderSchema, { 'Idempotency-Key': idempotencyKey });
    const request = parseOrThrow(spawnRequestSchema, body);
    const result = await this.sessions.spawn(request, headers['Idempotency-Key']);
    // Fastify's reply is thenable; setting the status needs no waiting.
    void reply.status(result.replayed ? 200 : 201);
    return result.value;
  }

  @Get(':id/status')
  @ApiOperation({ summary: "A session's status" })
  @ApiWireResponse(200, 'SessionStatusResponse', 'the session')
  @ApiErrorResponses({ 404: { when: 'no session with this id (ids from before a restart included)', code: 'not_found' } })
  status(@Param('id') id: string): Promise<SessionStatusResponse> {
    return this.sessions.status(id);
  }

  @Post(':id/kill')
  @HttpCode(200)
  @ApiOperation({ summary: "Kill a session's agent and every process it started", description: 'Idempotent: answers once they are gone.' })
  @ApiWireResponse(200, 'KillResponse', '`killed`, or the terminal status the session already had')
  @ApiErrorResponses({
    404: { when: 'no session with this id', code: 'not_found' },
    503: { when: 'the node that runs the session cannot be reached; retry', code: 'node_unreachable' },
  })
  kill(@Param('id') id: string, @Headers(FORWARDED_BY_HEADER) forwardedBy: string | undefined): Promise<KillResponse> {
    return this.sessions.stop(id, 'kill', undefined, forwardedBy);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Stop a session gracefully',
    description:
      "SIGTERM to the agent's process group, SIGKILL to whatever is left after `grace_ms`; answers once every process is gone. A pending session leaves the queue at once. Idempotent.",
  })
  @ApiBody({ schema: wireSchemaRef('CancelRequest'), required: false })
  @ApiWireResponse(200, 'KillResponse', '`cancelled`, or the terminal status the session already had')
  @ApiErrorResponses({
    400: { when: 'invalid body; the message names the field', code: 'bad_request' },
    404: { when: 'no session with this id', code: 'not_found' },
    503: { when: 'the node that runs the session cannot be reached; retry', code: 'node_unreachable' },
  })
  cancel(
    @Param('id') id: string,
    @Body() body: unknown,
    @Headers(FORWARDED_BY_HEADER) forwardedBy: string | undefined,
  ): Promise<KillResponse> {
    const request = parseOrThrow(cancelRequestSchema, body ?? {});
    return this.sessions.stop(id, 'cancel', request.grace_ms, forwardedBy);
  }

  @Get()
  @ApiOperation({ summary: 'Sessions, newest first, a page at a time' })
  @ApiQuery({ name: 'status', required: false, enum: SESSION_STATUSES })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: LIMITS.listMaxLimit, default: LIMITS.listDefaultLimit },
  })
  @ApiQuery({ name: 'cursor', required: false, description: 'the `next_cursor` of the previous page' })
  @ApiQuery({
    name: 'idempotency_key',
    required: false,
    description: 'only the session a spawn with this Idempotency-Key started: one page, no `cursor`',
  })
  @ApiWireResponse(200, 'ListResponse', 'one page; following `next_cursor` visits every session once')
  @ApiErrorResponses({ 400: { when: 'invalid query, or a cursor this orchestrator did not issue', code: 'bad_request' } })
  list(@Query() query: unknown): Promise<ListResponse> {
    return this.sessions.list(parseOrThrow(listQuerySchema, query));
  }
}
