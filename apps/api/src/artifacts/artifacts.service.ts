import { Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { artifactNameSchema, validate } from '@mosaic/orchestrator-contract';
import { z } from 'zod';
import { ArtifactRepository, type ArtifactSummary, type StoredArtifact } from './artifact.repository';

/** The name as a path parameter, so that a refusal names it. */
const nameParamSchema = z.object({ name: artifactNameSchema });

/**
 * Media types shown in the browser as they are: plain text, diffs and JSON, which no browser runs. Everything else
 * (HTML, SVG, XML, anything unknown) is served as a download, so that an artifact an agent wrote never runs as a page
 * of the API's origin.
 */
const INLINE_MEDIA_TYPES = new Set(['text/plain', 'text/x-diff', 'text/x-patch', 'text/markdown', 'text/csv', 'application/json']);

/** The headers an artifact's content is served with. */
export function contentHeaders(artifact: StoredArtifact): Record<string, string> {
  const inline = INLINE_MEDIA_TYPES.has(artifact.mediaType);
  // Names are letters, digits, `._-` and `/` (artifactNameSchema): the last segment needs no quoting beyond the quotes.
  const filename = artifact.name.slice(artifact.name.lastIndexOf('/') + 1);
  return {
    'content-type': inline && artifact.mediaType.startsWith('text/') ? `${artifact.mediaType}; charset=utf-8` : artifact.mediaType,
    'content-disposition': inline ? 'inline' : `attachment; filename="${filename}"`,
    'x-content-type-options': 'nosniff',
    // Even opened inline, the content gets no script, no style from elsewhere and no origin of its own.
    'content-security-policy': "default-src 'none'; sandbox",
    etag: `"${artifact.sha256}"`,
    // Re-sent artifacts replace earlier ones under the same name: a cached copy is checked against the etag first.
    'cache-control': 'private, no-cache',
  };
}

/** A session's artifacts (contract 7.2), as the operators read them. */
@Injectable()
export class ArtifactsService {
  constructor(private readonly artifacts: ArtifactRepository) {}

  async list(sessionId: string): Promise<ArtifactSummary[]> {
    const artifacts = await this.artifacts.list(sessionId);
    if (artifacts === undefined) throw new AppError('not_found', `session ${sessionId} not found`);
    return artifacts;
  }

  async content(sessionId: string, name: string): Promise<StoredArtifact> {
    const valid = validate(nameParamSchema, { name });
    if (!valid.ok) throw new AppError('bad_request', valid.message);
    const artifact = await this.artifacts.find(sessionId, name);
    if (artifact === undefined) throw new AppError('not_found', `artifact ${name} of session ${sessionId} not found`);
    return artifact;
  }
}
