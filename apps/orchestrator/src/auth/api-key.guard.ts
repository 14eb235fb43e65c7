import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AppError, bearerToken, secretsEqual } from '@mosaic/http-kit';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import {
  CLUSTER_BODY_DIGEST_HEADER,
  CLUSTER_SIGNATURE_HEADER,
  CLUSTER_TIMESTAMP_HEADER,
  ClusterSigner,
  bodyDigest,
} from '../cluster/cluster-signer';
import { FORWARDED_BY_HEADER } from '../cluster/node-forwarder';
import { OrchestratorConfig } from '../config/orchestrator-config';

/**
 * Checks `Authorization: Bearer <ORCHESTRATOR_API_KEY>`, or, for a call another node
 * passed on, its signature under CLUSTER_KEY (ClusterSigner): method, path, body digest,
 * timestamp and sending node, checked before the body is read; the body is checked
 * against its digest once parsed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** Requests whose cluster signature was accepted: a signature is accepted once, so the route-level check looks here. */
  private readonly signedByCluster = new WeakSet<IncomingMessage>();

  constructor(
    private readonly config: OrchestratorConfig,
    private readonly signer: ClusterSigner,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.signedByCluster.has(request.raw)) {
      if (header(request, CLUSTER_BODY_DIGEST_HEADER) !== bodyDigest(JSON.stringify(request.body ?? {}))) throw unauthorized();
      return true;
    }
    if (!this.isAuthorized(request)) throw unauthorized();
    return true;
  }

  /** Before the body is read: the API key, or a cluster signature over everything but the body. */
  isAuthorized(request: FastifyRequest): boolean {
    if (this.signedByCluster.has(request.raw)) return true;
    const token = bearerToken(request.headers.authorization);
    if (token !== undefined) return secretsEqual(token, this.config.apiKey);
    const [signature, digest, timestamp, nodeId] = [
      CLUSTER_SIGNATURE_HEADER,
      CLUSTER_BODY_DIGEST_HEADER,
      CLUSTER_TIMESTAMP_HEADER,
      FORWARDED_BY_HEADER,
    ].map((name) => header(request, name));
    if (signature === undefined || digest === undefined || timestamp === undefined || nodeId === undefined) return false;
    const call = { method: request.method, path: request.url, bodyDigest: digest, timestamp, nodeId };
    if (!this.signer.acceptCall(call, signature)) return false;
    this.signedByCluster.add(request.raw);
    return true;
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function unauthorized(): AppError {
  return new AppError('unauthorized', 'a valid API key is required: Authorization: Bearer <ORCHESTRATOR_API_KEY>');
}
