import { createHash, createHmac } from 'node:crypto';
import { secretsEqual } from '@mosaic/http-kit';

/** The headers of a call one node passes to another, besides `x-mosaic-forwarded-by` (the sending node's id). */
export const CLUSTER_TIMESTAMP_HEADER = 'x-mosaic-cluster-timestamp';
export const CLUSTER_BODY_DIGEST_HEADER = 'x-mosaic-cluster-body-sha256';
export const CLUSTER_SIGNATURE_HEADER = 'x-mosaic-cluster-signature';
/** How far a forwarded call's timestamp may be from the receiver's clock, either way. */
export const CLUSTER_CLOCK_SKEW_MS = 30_000;

/** What a forwarded call's signature covers. */
export interface ClusterCall {
  method: string;
  /** The path and query, as sent. */
  path: string;
  /** Hex SHA-256 of the body (`bodyDigest`). */
  bodyDigest: string;
  /** Milliseconds since the epoch, in decimal. */
  timestamp: string;
  nodeId: string;
}

export function bodyDigest(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Node-to-node trust under CLUSTER_KEY, which is never in the store: a node signs the
 * record it keeps there (its id and url), and every call it passes to another node. A
 * forwarder follows only records their node signed, so whoever can write to the store
 * cannot send a node's kill (or any key) elsewhere; a receiver takes a call as the
 * cluster's only when it is signed, fresh, and not seen before.
 */
export class ClusterSigner {
  /** Signatures of the calls accepted within the clock window, with when each leaves it. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly key: string,
    private readonly now: () => number = Date.now,
  ) {}

  signNode(id: string, url: string): string {
    return this.mac(['node', id, url]);
  }

  isSignedNode(node: { id: string; url: string; signature: string }): boolean {
    // Compared as text (in constant time): decoding first would accept variants of the last character's unused bits.
    return secretsEqual(node.signature, this.signNode(node.id, node.url));
  }

  signCall(call: ClusterCall): string {
    return this.mac(['call', call.method.toUpperCase(), call.path, call.bodyDigest, call.timestamp, call.nodeId]);
  }

  /** Whether `signature` is this key's over the call, its timestamp within the window, and the call not one already accepted. */
  acceptCall(call: ClusterCall, signature: string): boolean {
    const now = this.now();
    for (const [seen, until] of this.seen) if (until < now) this.seen.delete(seen);
    if (!/^\d{1,15}$/.test(call.timestamp) || Math.abs(now - Number(call.timestamp)) > CLUSTER_CLOCK_SKEW_MS) return false;
    if (!secretsEqual(signature, this.signCall(call)) || this.seen.has(signature)) return false;
    this.seen.set(signature, Number(call.timestamp) + CLUSTER_CLOCK_SKEW_MS);
    return true;
  }

  private mac(fields: readonly string[]): string {
    return createHmac('sha256', this.key).update(JSON.stringify(fields)).digest('base64url');
  }
}
