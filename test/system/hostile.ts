import fc from 'fast-check';
import type { FaultProxy } from '../support/fault-proxy';
import type { ServiceProcess } from '../support/service-process';
import { query } from './harness';

// What the hostile-input scenarios (10 and 20) share: sending what a hostile client can, judging the answers by the contract.

/** Whether `body` is the contract's error body: `{ "error": { "code", "message" } }`, both strings. */
export function isContractError(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string';
  } catch {
    return false;
  }
}

/** A header value any HTTP client can send: printable ASCII, up to 80 characters. */
export const headerValue = fc.string({ maxLength: 80 }).filter((value) => !/[\r\n\0]/.test(value) && /^[\x20-\x7e]*$/.test(value));

/** Text PostgreSQL cannot store: a NUL or an unpaired surrogate between random text. */
export const unstorableTexts = fc
  .tuple(fc.string({ maxLength: 40 }), fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF'), fc.string({ maxLength: 40 }))
  .map(([start, odd, end]) => start + odd + end);

/** The callback token the orchestrator used for an API session, as the recording proxy in front of the API saw it. */
export function callbackTokenOf(callbacks: FaultProxy, sessionId: string): string {
  const seen = callbacks.requests.find((request) => request.path.endsWith(sessionId));
  return (seen?.headers.authorization ?? '').replace(/^Bearer /, '');
}

/** The callback signing secret the API gave an API session, as the proxy in front of the orchestrator saw its spawn. */
export function signingSecretOf(spawns: FaultProxy, sessionId: string): string {
  const spawn = spawns.requests.find(
    (request) =>
      request.path === '/orchestrator/sessions/spawn' &&
      (JSON.parse(request.body) as { callback_url: string }).callback_url.endsWith(sessionId),
  );
  return (JSON.parse(spawn!.body) as { callback_signing_secret: string }).callback_signing_secret;
}

/** One digest of every row of `tables`, to prove that hostile requests wrote nothing. */
export async function tablesDigest(databaseUrl: string, tables: readonly string[]): Promise<string> {
  const rows = tables.map((table) => `coalesce((SELECT string_agg(r::text, ',' ORDER BY r::text) FROM ${table} r), '')`);
  const [{ digest }] = await query<{ digest: string }>(databaseUrl, `SELECT md5(${rows.join(" || '|' || ")}) AS digest`);
  return digest;
}

/** Answers by status, as the notes report them: "400 × 12, 404 × 3". */
export function describeStatuses(statuses: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const status of [...statuses].sort((a, b) => a - b)) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, count]) => `${status} × ${count}`).join(', ');
}

/**
 * Reads every line services print, looking for secrets. A service keeps only the last 512 KiB of its output, less
 * than a hostile-input scenario makes it print, so the lines are read at checkpoints, each time those printed since.
 */
export class LogReader {
  private readonly lastRead = new Map<ServiceProcess, string>();
  private readonly found = new Set<string>();
  /** Lines read so far. */
  lines = 0;

  constructor(private readonly services: readonly ServiceProcess[]) {}

  /** Reads the lines printed since the last call, looking for each of `secrets`; throws if some are no longer kept. */
  read(secrets: readonly string[]): void {
    for (const service of this.services) {
      // The last line may still be partial: it is read next time, whole.
      const complete = service.output().split('\n').slice(0, -1);
      const last = this.lastRead.get(service);
      const from = last === undefined ? 0 : complete.lastIndexOf(last) + 1;
      if (last !== undefined && from === 0)
        throw new Error(`pid ${service.pid} printed more than it keeps since its logs were last read: read them more often`);
      const fresh = complete.slice(from);
      this.lines += fresh.length;
      for (const secret of secrets) if (fresh.some((line) => line.includes(secret))) this.found.add(secret);
      if (complete.length > 0) this.lastRead.set(service, complete[complete.length - 1]);
    }
  }

  /** The secrets found in any line read. */
  leaked(): string[] {
    return [...this.found];
  }
}
