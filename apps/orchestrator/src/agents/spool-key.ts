import { createHmac, timingSafeEqual } from 'node:crypto';

/** The MAC's length in a spool record or stop line: HMAC-SHA256 cut to 16 bytes, as hex (supervisor/mosaic-supervisor.c). */
export const MAC_HEX_LENGTH = 32;

/**
 * The key a session's supervisor signs its records with and checks stop requests by.
 * Derived from the node's secret (ORCHESTRATOR_API_KEY) rather than kept anywhere, so a
 * restarted node that adopts the supervisor has it again; per session, so a record
 * copied from another session's spool does not check.
 */
export function sessionSpoolKey(nodeSecret: string, sessionId: string): Buffer {
  return createHmac('sha256', nodeSecret).update(`mosaic-supervisor-key\0${sessionId}`).digest();
}

/** The MAC of `body` as the supervisor writes it: 32 lower-case hex digits. */
export function spoolMac(key: Buffer, body: Buffer | string): string {
  return createHmac('sha256', key).update(body).digest('hex').slice(0, MAC_HEX_LENGTH);
}

/** Whether `mac` (bytes of hex digits) is `body`'s. */
export function isSpoolMac(key: Buffer, body: Buffer, mac: Buffer): boolean {
  const expected = Buffer.from(spoolMac(key, body), 'latin1');
  return mac.length === expected.length && timingSafeEqual(mac, expected);
}
