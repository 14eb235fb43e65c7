import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { FORWARDED_BY_HEADER, NodeForwarder } from './node-forwarder';

const API_KEY = 'the-orchestrator-api-key';
const CLUSTER_KEY = 'the-cluster-key';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A listener the test controls: records every request and answers it with `answer`. */
async function listener(answer: (url: string) => { status: number; headers?: Record<string, string>; body?: string }) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const { status, headers, body: text } = answer(request.url ?? '');
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(text ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('NodeForwarder', () => {
  const signer = new ClusterSigner(CLUSTER_KEY);
  const forwarder = new NodeForwarder(
    OrchestratorConfig.fromEnvironment({ NODE_ID: 'node-a', ORCHESTRATOR_API_KEY: API_KEY, CLUSTER_KEY }),
    signer,
  );
  const nodeAt = (url: string, signedUrl = url): NodeRecord => ({
    id: 'node-b',
    url,
    capacity: 1,
    activeSessions: 1,
    signature: signer.signNode('node-b', signedUrl),
  });
  const listeners: { close(): Promise<void> }[] = [];
  afterEach(async () => Promise.all(listeners.splice(0).map((open) => open.close())));

  it('passes a cancel on with its own signature, which the receiving node accepts, and never the API key', async () => {
    const node = await listener(() => ({ status: 200, body: JSON.stringify({ session_id: 's1', status: 'cancelled' }) }));
    listeners.push(node);

    expect(await forwarder.stop(nodeAt(node.url), 's1', 'cancel', 500)).toEqual({ session_id: 's1', status: 'cancelled' });

    const [request] = node.received as [Received];
    expect(JSON.stringify(request.headers)).not.toContain(API_KEY);
    expect(request.headers.authorization).toBeUndefined();
    expect(request.headers[CLUSTER_BODY_DIGEST_HEADER]).toBe(bodyDigest(request.body));
    const call = {
      method: request.method,
      path: request.url,
      bodyDigest: bodyDigest(request.body),
      timestamp: String(request.headers[CLUSTER_TIMESTAMP_HEADER]),
      nodeId: String(request.headers[FORWARDED_BY_HEADER]),
    };
    expect(call).toMatchObject({ method: 'POST', path: '/orchestrator/sessions/s1/cancel', nodeId: 'node-a' });
    expect(new ClusterSigner(CLUSTER_KEY).acceptCall(call, String(request.headers[CLUSTER_SIGNATURE_HEADER]))).toBe(true);
  });

  it('sends nothing to an address the node did not sign: a record changed in the store', async () => {
    const attacker = await listener(() => ({ status: 200, body: JSON.stringify({ session_id: 's1', status: 'killed' }) }));
    listeners.push(attacker);

    const tampered = nodeAt(attacker.url, 'http://10.0.0.2:3100');
    await expect(forwarder.stop(tampered, 's1', 'kill', 0)).rejects.toMatchObject({ code: 'node_unreachable' });
    await expect(forwarder.stop({ ...tampered, signature: '' }, 's1', 'kill', 0)).rejects.toBeInstanceOf(AppError);

    expect(attacker.received).toEqual([]);
  });

  it('does not follow a redirect: the kill fails and the redirect target hears nothing', async () => {
    const target = await listener(() => ({ status: 200, body: JSON.stringify({ session_id: 's1', status: 'killed' }) }));
    const redirecting = await listener(() => ({ status: 307, headers: { location: `${target.url}/orchestrator/sessions/s1/kill` } }));
    listeners.push(target, redirecting);

    await expect(forwarder.stop(nodeAt(redirecting.url), 's1', 'kill', 0)).rejects.toMatchObject({
      code: 'node_unreachable',
      message: expect.stringContaining('answered 307') as unknown,
    });

    expect(redirecting.received).toHaveLength(1);
    expect(target.received).toEqual([]);
  });
});
