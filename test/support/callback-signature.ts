import { Webhook } from 'standardwebhooks';

/** The Standard Webhooks headers the orchestrator sends with `body` (docs/contract.md §3), signed with `secret` at `at`. */
export function signatureHeaders(secret: string, eventId: string, body: string, at = new Date()): Record<string, string> {
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(eventId, at, body),
  };
}
