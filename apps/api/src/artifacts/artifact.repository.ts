import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';

/** What is known of a stored artifact without its content. */
export interface ArtifactSummary {
  readonly name: string;
  readonly mediaType: string;
  /** The whole artifact's size, also when `content` was cut. */
  readonly size: number;
  readonly sha256: string;
  readonly truncated: boolean;
  readonly createdAt: Date;
}

export interface StoredArtifact extends ArtifactSummary {
  readonly content: Buffer;
}

const SUMMARY = { name: true, mediaType: true, size: true, sha256: true, truncated: true, createdAt: true } as const;

/**
 * Reads a session's artifacts. They are written by the callback batch, in the statement that stores their events
 * (callback-batch-artifacts.sql.ts).
 */
@Injectable()
export class ArtifactRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The session's artifacts by name, without contents; undefined when there is no such session. */
  async list(sessionId: string): Promise<ArtifactSummary[] | undefined> {
    const session = await this.prisma.orchestratorSession.findUnique({
      where: { id: sessionId },
      select: { artifacts: { select: SUMMARY } },
    });
    // By code unit, not by the database's collation: the same order wherever it runs.
    return session?.artifacts.map(summaryOf).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async find(sessionId: string, name: string): Promise<StoredArtifact | undefined> {
    const row = await this.prisma.orchestratorSessionArtifact.findUnique({
      where: { sessionId_name: { sessionId, name } },
      select: { ...SUMMARY, content: true },
    });
    return row === null ? undefined : { ...summaryOf(row), content: Buffer.from(row.content) };
  }
}

function summaryOf(row: {
  name: string;
  mediaType: string;
  size: bigint;
  sha256: string;
  truncated: boolean;
  createdAt: Date;
}): ArtifactSummary {
  return {
    name: row.name,
    mediaType: row.mediaType,
    size: Number(row.size),
    sha256: row.sha256,
    truncated: row.truncated,
    createdAt: row.createdAt,
  };
}
