import { CLUSTER_CLOCK_SKEW_MS, ClusterSigner, bodyDigest, type ClusterCall } from './cluster-signer';

describe('ClusterSigner', () => {
  const now = 1_000_000;
  let signer: ClusterSigner;
  beforeEach(() => (signer = new ClusterSigner('cluster-key', () => now)));
  const call = (overrides: Partial<ClusterCall> = {}): ClusterCall => ({
    method: 'POST',
    path: '/orchestrator/sessions/s1/kill',
    bodyDigest: bodyDigest('{}'),
    timestamp: String(now),
    nodeId: 'node-a',
    ...overrides,
  });

  it('accepts only the node records it signed, as signed', () => {
    const record = { id: 'node-a', url: 'http://10.0.0.1:3100', signature: signer.signNode('node-a', 'http://10.0.0.1:3100') };

    expect(signer.isSignedNode(record)).toBe(true);
    expect(signer.isSignedNode({ ...record, url: 'http://attacker.test:9' })).toBe(false);
    expect(signer.isSignedNode({ ...record, id: 'node-b' })).toBe(false);
    expect(signer.isSignedNode({ ...record, signature: '' })).toBe(false);
    expect(new ClusterSigner('another-key').isSignedNode(record)).toBe(false);
  });

  it('accepts a signed call once: a replay within the window is refused', () => {
    const signed = call();
    const signature = signer.signCall(signed);

    expect(signer.acceptCall(signed, signature)).toBe(true);
    expect(signer.acceptCall(signed, signature)).toBe(false);
  });

  it.each<[string, Partial<ClusterCall>]>([
    ['another method', { method: 'GET' }],
    ['another path', { path: '/orchestrator/sessions/s2/kill' }],
    ['another body', { bodyDigest: bodyDigest('{"grace_ms":0}') }],
    ['another node', { nodeId: 'node-b' }],
    ['another timestamp', { timestamp: String(now - 1) }],
  ])('refuses a signature over a call with %s', (_, changed) => {
    const signature = signer.signCall(call());
    expect(signer.acceptCall(call(changed), signature)).toBe(false);
  });

  it('refuses a call signed under another key', () => {
    expect(signer.acceptCall(call(), new ClusterSigner('another-key').signCall(call()))).toBe(false);
  });

  it('refuses a call whose timestamp is further than the clock skew from now, either way', () => {
    for (const timestamp of [now - CLUSTER_CLOCK_SKEW_MS - 1, now + CLUSTER_CLOCK_SKEW_MS + 1]) {
      const signed = call({ timestamp: String(timestamp) });
      expect(signer.acceptCall(signed, signer.signCall(signed))).toBe(false);
    }
    const edge = call({ timestamp: String(now - CLUSTER_CLOCK_SKEW_MS) });
    expect(signer.acceptCall(edge, signer.signCall(edge))).toBe(true);
  });
});
