import { Injectable } from '@nestjs/common';
import { killResponseSchema, type KillResponse } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorConfig } from '../config/orchestrator-config';
import type { NodeRecord } from '../store/session-store';

/** Marks a request one node passed to another, so that the receiver answers it itself and never passes it on again. */
export const FORWARDED_BY_HEADER = 'x-mosaic-forwarded-by';
/** On top of a cancel's grace: the owner answers only once the tree is gone. */
const FORWARD_TIMEOUT_MARGIN_MS = 15_000;

export type StopKind = 'kill' | 'cancel';

/** Passes a kill or a cancel to the node that runs the session: only that node holds its agent's process group. */
@Injectable()
export class NodeForwarder {
  constructor(private readonly config: OrchestratorConfig) {}

  async stop(node: NodeRecord, sessionId: string, kind: StopKind, graceMs: number): Promise<KillResponse> {
    let response: Response;
    try {
      response = await fetch(`${node.url}/orchestrator/sessions/${encodeURIComponent(sessionId)}/${kind}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.config.apiKey}`,
          'content-type': 'application/json',
          [FORWARDED_BY_HEADER]: this.config.nodeId,
        },
        body: JSON.stringify(kind === 'cancel' ? { grace_ms: graceMs } : {}),
        signal: AbortSignal.timeout(graceMs + FORWARD_TIMEOUT_MARGIN_MS),
      });
    } catch (error) {
      throw new AppError(
        'node_unreachable',
        `node ${node.id}, which runs session ${sessionId}, could not be reached (${(error as Error).message}); retry, or wait until it is declared lost`,
      );
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.status === 404) throw new AppError('not_found', `no session with id ${sessionId}`);
    const answer = killResponseSchema.safeParse(body);
    if (response.status !== 200 || !answer.success) {
      throw new AppError(
        'node_unreachable',
        `node ${node.id}, which runs session ${sessionId}, answered ${response.status} to the ${kind}`,
      );
    }
    return answer.data;
  }
}
