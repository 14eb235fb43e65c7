import { Controller, type ExecutionContext, Get, Param, Res, createParamDecorator } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ArtifactList } from '@mosaic/orchestrator-contract';
import { OperatorAuth } from '../auth/operator-auth.guard';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses } from '../openapi/error-responses';
import { ApiWireResponse } from '../openapi/wire-decorators';
import { presentArtifact } from './artifact.presenter';
import { ArtifactsService, contentHeaders } from './artifacts.service';

/**
 * What the route's wildcard matched, decoded: the artifact's name. Read from the request, not with `@Param('*')`,
 * which the OpenAPI document would list as a parameter beside the `{path}` it makes of the wildcard.
 */
const WildcardName = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string =>
    (context.switchToHttp().getRequest<FastifyRequest>().params as Record<string, string>)['*'] ?? '',
);

/** A session's artifacts (contract 7.2): what its agent produced, sent by the orchestrator as `artifact` callbacks. */
@ApiTags('sessions')
@Controller('orchestrator/sessions')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Get(':id/artifacts')
  @OperatorAuth('read')
  @ApiOperation({ summary: "The session's artifacts by name, without their contents" })
  @ApiWireResponse(200, 'ArtifactList')
  @ApiErrorResponses({ 404: { when: 'no session with this id', code: 'not_found' } })
  async list(@Param('id', new UuidParam('session')) id: string): Promise<ArtifactList> {
    return { artifacts: (await this.artifacts.list(id)).map(presentArtifact) };
  }

  // A wildcard: a name may have several path segments (`out/report.md`).
  @Get(':id/artifacts/*')
  @OperatorAuth('read')
  @ApiOperation({
    summary: "One artifact's content, with its media type",
    description:
      'Byte for byte as the orchestrator sent it (cut at ARTIFACT_MAX_BYTES when `truncated`). Plain text, diffs and JSON are served ' +
      'inline; anything else, HTML included, as an attachment. `ETag` is its SHA-256.',
  })
  @ApiParam({
    name: 'path',
    type: String,
    description: "the artifact's name, such as `changes.patch` or `out/report.md`",
    example: 'changes.patch',
  })
  @ApiResponse({
    status: 200,
    description: 'the content',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrorResponses({
    400: { when: 'a name that is no artifact name (`..`, characters outside letters, digits and `._-/`)', code: 'bad_request' },
    404: { when: 'no session with this id, or no artifact of this name', code: 'not_found' },
  })
  async content(
    @Param('id', new UuidParam('session')) id: string,
    @WildcardName() name: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const artifact = await this.artifacts.content(id, name);
    reply.headers(contentHeaders(artifact));
    return artifact.content;
  }
}
