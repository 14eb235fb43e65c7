import type { ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@mosaic/http-kit';
import {
  CLUSTER_BODY_DIGEST_HEADER,
  CLUSTER_SIGNATURE_HEADER,
  CLUSTER_TIMESTAMP_HEADER,
  ClusterSigner,
  bodyDigest,
} from '../cluster/cluster-signer';
import { FORWARDED_BY_HEADER } from '../cluster/node-forwarder';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { ApiKeyGuard } from './api-key.guard';

const API_KEY = 'the-orchestrator-api-key';
const CLUSTER_KEY = 'the-cluster-key';
const PATH = '/orchestrator/sessions/s1/cancel';

/** A request as Fastify hands it to the hook (no body yet) and then to the guard (body parsed). */
function request(headers: Record<string, string>, body: unknown = { grace_ms: 5 }): FastifyRequest {
  return { method: 'POST', url: PATH, headers, body, raw: {} } as unknown as FastifyRequest;
}

function contextOf(forwarded: FastifyRequest): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => forwarded }) } as unknown as ExecutionContext;
}

/** The headers NodeForwarder sends with `body`, signed under `key`. */
function signedHeaders(key: string, body: string, timestamp = Date.now()): Record<string, string> {
  const call = { method: 'POST', path: PATH, bodyDigest: bodyDigest(body), timestamp: String(timestamp), nodeId: 'node-a' };
  return {
    [FORWARDED_BY_HEADER]: call.nodeId,
    [CLUSTER_TIMESTAMP_HEADER]: call.timestamp,
    [CLUSTER_BODY_DIGEST_HEADER]: call.bodyDigest,
    [CLUSTER_SIGNATURE_HEADER]: new ClusterSigner(key).signCall(call),
  };
}

describe('ApiKeyGuard', () => {
  let guard: ApiKeyGuard;
  beforeEach(() => {
    guard = new ApiKeyGuard(
      OrchestratorConfig.fromEnvironment({ ORCHESTRATOR_API_KEY: API_KEY, CLUSTER_KEY }),
      new ClusterSigner(CLUSTER_KEY),
    );
  });

  it('lets the API key in, and nothing else without a cluster signature', () => {
    expect(guard.isAuthorized(request({ authorization: `Bearer ${API_KEY}` }))).toBe(true);
    expect(guard.isAuthorized(request({ authorization: 'Bearer wrong' }))).toBe(false);
    expect(guard.isAuthorized(request({ [FORWARDED_BY_HEADER]: 'node-a' }))).toBe(false);
  });

  it('lets a call another node signed in, once: the same call again is refused', () => {
    const headers = signedHeaders(CLUSTER_KEY, '{"grace_ms":5}');
    const forwarded = request(headers);

    expect(guard.isAuthorized(forwarded)).toBe(true);
    expect(guard.canActivate(contextOf(forwarded))).toBe(true);
    expect(guard.isAuthorized(request(headers))).toBe(false);
  });

  it('refuses a call signed under another key, or signed too long ago', () => {
    expect(guard.isAuthorized(request(signedHeaders('another-key', '{"grace_ms":5}')))).toBe(false);
    expect(guard.isAuthorized(request(signedHeaders(CLUSTER_KEY, '{"grace_ms":5}', Date.now() - 60_000)))).toBe(false);
  });

  it('refuses, at the route, a signed call whose body is not the one signed', () => {
    const forwarded = request(signedHeaders(CLUSTER_KEY, '{"grace_ms":5}'), { grace_ms: 600_000 });

    expect(guard.isAuthorized(forwarded)).toBe(true);
    expect(() => guard.canActivate(contextOf(forwarded))).toThrow(AppError);
  });
});
