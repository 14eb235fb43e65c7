import type { ArtifactSummary as WireArtifactSummary } from '@mosaic/orchestrator-contract';
import type { ArtifactSummary } from './artifact.repository';

/** An artifact on the wire (contract 7.2), snake_case. */
export function presentArtifact(artifact: ArtifactSummary): WireArtifactSummary {
  return {
    name: artifact.name,
    media_type: artifact.mediaType,
    size: artifact.size,
    sha256: artifact.sha256,
    truncated: artifact.truncated,
    created_at: artifact.createdAt.toISOString(),
  };
}
