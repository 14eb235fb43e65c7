import { Injectable } from '@nestjs/common';
import { killResponseSchema, type KillResponse } from '@mosaic/orchestrator-contract';
import { AppError } from '@mosaic/http-kit';
import { OrchestratorConfig } from '../config/orchestrator-config';
import type { NodeRecord } from '../store/session-store';
import {
  CLUSTER_BODY_DIGEST_HEADER,
  CLUSTER_SIGNATURE_HEADER,
  CLUSTER_TIMESTAMP_HEADER,
  ClusterSigner,
  bodyDigest,
} from './cluster-signer';

/** Marks a request one node passed to another, so that the receiver answers it itself and never passes it on again. */
export const FORWARDED_BY_HEADER = 'x-mosaic-forwarded-by';
/** On top of a cancel's grace: the owner answers only once the tree is gone. */
const FORWARD_TIMEOUT_MARGIN_MS = 15_000;

export type StopKind = 'kill' | 'cancel';

/**
 * Passes a kill or a cancel to the node that runs the session: only that node holds its agent's process group.
 * The call carries its own signature under CLUSTER_KEY, never the API key, and goes only to the address the node
 * itself signed in its record; a redirect is not followed.
 */
@Injectable()
export class NodeForwarder {
  constructor(
    private readonly config: OrchestratorConfig,
    private readonly signer: ClusterSigner,
  ) {}

  async stop(node: NodeRecord, sessionId: string, kind: StopKind, graceMs: number): Promise<KillResponse> {
    if (!this.signer.isSignedNode(node)) {
      throw new AppError(
        'node_unreachable',
        `node ${node.id}, which runs session ${sessionId}, has a record in the store it did not sign with CLUSTER_KEY: not passing the ${kind} on`,
      );
    }
    const path = `/orchestrator/sessions/${encodeURIComponent(sessionId)}/${kind}`;
    const body = JSON.stringify(kind === 'cancel' ? { grace_ms: graceMs } : {});
    const call = { method: 'POST', path, bodyDigest: bodyDigest(body), timestamp: String(Date.now()), nodeId: this.config.nodeId };
    let response: Response;
    try {
      response = await fetch(`${node.url}${path}`, {
        method: call.method,
        headers: {
          'content-type': 'application/json',
          [FORWARDED_BY_HEADER]: call.nodeId,
          [CLUSTER_TIMESTAMP_HEADER]: call.timestamp,
          [CLUSTER_BODY_DIGEST_HEADER]: call.bodyDigest,
          [CLUSTER_SIGNATURE_HEADER]: this.signer.signCall(call),
        },
        body,
        // A node answers a kill itself: a redirect points somewhere the record did not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(graceMs + FORWARD_TIMEOUT_MARGIN_MS),
      });
    } catch (error) {
      throw new AppError(
        'node_unreachable',
        `node ${node.id}, which runs session ${sessionId}, could not be reached (${(error as Error).message}); retry, or wait until it is declared lost`,
      );
    }
    const answer: unknown = await response.json().catch(() => undefined);
    if (response.status === 404) throw new AppError('not_found', `no session with id ${sessionId}`);
    const parsed = killResponseSchema.safeParse(answer);
    if (response.status !== 200 || !parsed.success) {
      throw new AppError(
        'node_unreachable',
        `node ${node.id}, which runs session ${sessionId}, answered ${response.status} to the ${kind}`,
      );
    }
    return parsed.data;
  }
}
