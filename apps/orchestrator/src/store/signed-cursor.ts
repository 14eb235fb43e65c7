import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from './session-store';

/**
 * Paging cursors of both stores: a creation position and its HMAC under a key kept
 * in the store itself, so every node accepts every other node's cursors and a
 * cursor nobody issued is refused rather than read as a position.
 */
export class CursorSigner {
  constructor(private readonly key: Buffer) {}

  issue(position: string): string {
    return `${position}.${this.signature(position)}`;
  }

  /** The position a cursor continues after; throws InvalidCursorError unless this key signed it. */
  positionOf(cursor: string): string {
    const match = /^(\d{1,19})\.([A-Za-z0-9_-]+)$/.exec(cursor);
    if (match) {
      const [, position, signature] = match as unknown as [string, string, string];
      // Compared as text: decoding first would accept variants of the last character's unused bits.
      const expected = Buffer.from(this.signature(position));
      const given = Buffer.from(signature);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return position;
    }
    throw new InvalidCursorError('this cursor was not issued by this store');
  }

  private signature(position: string): string {
    return createHmac('sha256', this.key).update(`sessions-before:${position}`).digest('base64url');
  }
}
