import { HttpService } from '@nestjs/axios';
import { Injectable, Logger } from '@nestjs/common';
import { AxiosError, type AxiosResponse } from 'axios';
import {
  CircuitState,
  ConsecutiveBreaker,
  ConstantBackoff,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  isIsolatedCircuitError,
  retry,
  type CircuitBreakerPolicy,
  type RetryPolicy,
} from 'cockatiel';
import type { z } from 'zod';
import { parseRetryAfter, retryBackoff } from '@mosaic/http-kit';
import { requestTracing } from '@mosaic/observability';
import {
  HEADERS,
  cancelResponseSchema,
  errorBodySchema,
  killResponseSchema,
  listResponseSchema,
  orchestratorHealthSchema,
  sessionStatusResponseSchema,
  spawnResponseSchema,
  validate,
  type CancelRequest,
  type CancelResponse,
  type CircuitStateName,
  type KillResponse,
  type ListResponse,
  type OrchestratorHealth,
  type SessionStatus,
  type SessionStatusResponse,
  type SpawnRequest,
} from '@mosaic/orchestrator-contract';
import { ApiConfig } from '../config/api-config';
import { ApiMetrics, type OrchestratorOperation } from '../metrics/api-metrics';
import { OrchestratorError } from './orchestrator.errors';

export interface ListSessionsQuery {
  readonly status?: SessionStatus;
  readonly limit?: number;
  readonly cursor?: string;
}

/** `answer.code` of a `rejected` error whose 2xx body did not match the contract. */
export const MALFORMED_ANSWER_CODE = 'malformed_answer';

const CIRCUIT_STATE_NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'isolated',
};

/** 502/504 come from proxies in front of a struggling orchestrator; 503 from one shutting down or without its queue store. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT']);

/**
 * Failures that mean the node never took the request (refused, reset or hung
 * up on, not found in DNS, no route): the same call may go to another node.
 * A timeout is not one of them, since the node may have received the request.
 */
const CONNECTION_FAILURE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The orchestrator's refusal of a spawn for want of room: v2's `queue_full`,
 * or v1's `at_capacity` from an orchestrator without a queue.
 */
const QUEUE_FULL_CODES = new Set(['queue_full', 'at_capacity']);

/**
 * The spawn answer, read with the status object's `node` and `queue_position`
 * when an orchestrator sends them too: the contract's answer does not require
 * them, and a queued session's place is otherwise known from its next status.
 */
const spawnAnswerSchema = spawnResponseSchema.extend({
  node: sessionStatusResponseSchema.shape.node,
  queue_position: sessionStatusResponseSchema.shape.queue_position,
});
export type SpawnAnswer = z.infer<typeof spawnAnswerSchema>;

/** The grace an orchestrator gives a cancel that names none (docs/contract.md §2, `CANCEL_GRACE_MS`'s default). */
export const DEFAULT_CANCEL_GRACE_MS = 10_000;

interface Operation<T> {
  readonly name: OrchestratorOperation;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly timeoutMs: number;
  readonly schema: z.ZodType<T>;
  readonly body?: unknown;
  readonly params?: URLSearchParams;
  readonly headers?: Readonly<Record<string, string>>;
  /** Set on calls about one session: a 404 then means "no such session", not a wrong URL. */
  readonly sessionId?: string;
}

/**
 * Why one attempt failed, with what the retry and breaker policies decide on.
 * It never leaves the client: callers get its `error`.
 */
class AttemptFailure extends Error {
  constructor(
    readonly error: OrchestratorError,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    /** The node never took the request: the call may go to the next node at once. */
    readonly connectionFailed = false,
  ) {
    super(error.message);
  }
}

/**
 * What the orchestrator answered. An answer, even a refusal, proves it is up,
 * so it passes the breaker as a success; only missing answers (thrown
 * `AttemptFailure`s) count towards opening it.
 */
type Answer<T> = { readonly value: T } | { readonly refusal: AttemptFailure };

/**
 * The API's only way to the orchestrator (docs/contract.md §2).
 *
 * Resilience, outermost first: retry (exponential backoff with jitter, at
 * least `Retry-After`), then the circuit breaker, then failover across the
 * orchestrator's nodes, then one HTTP attempt with a hard timeout. Retry sits
 * outside so that every attempt counts towards the breaker, and an open
 * breaker's `circuit_open` is never retried: a call fails fast instead of
 * backing off against a breaker that will not close in time. Retried: network
 * errors, timeouts, 429, 502, 503 and 504 for every operation, spawn included
 * because it carries the same idempotency key on every attempt. Not retried:
 * 500 (an orchestrator bug that a retry repeats), a full queue (it does not
 * drain in the seconds a caller waits; the caller gets its Retry-After) and
 * every other 4xx (the same request gets the same answer).
 *
 * Nodes (ORCHESTRATOR_URL may list several): each attempt goes to the next
 * node in turn, and one the node never took (connection refused or reset, DNS
 * failure) goes on at once to the following node, with the same headers, so a
 * spawn keeps its Idempotency-Key and failover cannot start a second agent.
 * The nodes form one orchestrator, so there is one breaker for all of them: it
 * counts an attempt as failed only when no node answered it.
 */
@Injectable()
export class OrchestratorClient {
  private readonly logger = new Logger(OrchestratorClient.name);
  private readonly breaker: CircuitBreakerPolicy;
  /** The breaker's count of consecutive failures, told of answered health probes too (see `health`). */
  private readonly consecutiveFailures: ConsecutiveBreaker;
  private readonly retry: RetryPolicy;
  private readonly failover: RetryPolicy;
  private readonly nodes: readonly string[];
  /** The node the next attempt starts at (round robin). */
  private nextNode = 0;

  constructor(
    private readonly http: HttpService,
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
  ) {
    const { breaker, retry: retrySettings } = config.orchestrator;
    this.consecutiveFailures = new ConsecutiveBreaker(breaker.consecutiveFailures);
    this.breaker = circuitBreaker(
      handleWhen((error) => error instanceof AttemptFailure),
      { halfOpenAfter: breaker.halfOpenAfterMs, breaker: this.consecutiveFailures },
    );
    this.retry = retry(
      handleWhen((error) => error instanceof AttemptFailure && error.retryable),
      {
        maxAttempts: retrySettings.attempts,
        // Stretched to the orchestrator's Retry-After, but never past maxDelayMs: a caller waits on this.
        backoff: retryBackoff({
          initialDelayMs: retrySettings.initialDelayMs,
          maxDelayMs: retrySettings.maxDelayMs,
          retryAfterMs: (error) => (error instanceof AttemptFailure ? error.retryAfterMs : undefined),
        }),
      },
    );
    this.nodes = config.orchestrator.urls;
    this.failover = retry(
      handleWhen((error) => error instanceof AttemptFailure && error.connectionFailed),
      { maxAttempts: this.nodes.length - 1, backoff: new ConstantBackoff(0) },
    );
    this.logBreakerStateChanges(breaker.consecutiveFailures, breaker.halfOpenAfterMs);
  }

  get circuitState(): CircuitStateName {
    return CIRCUIT_STATE_NAMES[this.breaker.state];
  }

  spawn(body: SpawnRequest, idempotencyKey: string): Promise<SpawnAnswer> {
    return this.callWithRetry({
      name: 'spawn',
      method: 'POST',
      path: '/orchestrator/sessions/spawn',
      timeoutMs: this.config.orchestrator.timeoutsMs.spawn,
      schema: spawnAnswerSchema,
      body,
      headers: { [HEADERS.idempotencyKey]: idempotencyKey },
    });
  }

  async getStatus(orchestratorSessionId: string): Promise<SessionStatusResponse> {
    return this.callWithRetry({
      name: 'status',
      method: 'GET',
      path: sessionPath(orchestratorSessionId, 'status'),
      timeoutMs: this.config.orchestrator.timeoutsMs.status,
      schema: sessionStatusResponseSchema,
      sessionId: orchestratorSessionId,
    });
  }

  async kill(orchestratorSessionId: string): Promise<KillResponse> {
    return this.callWithRetry({
      name: 'kill',
      method: 'POST',
      path: sessionPath(orchestratorSessionId, 'kill'),
      timeoutMs: this.config.orchestrator.timeoutsMs.kill,
      schema: killResponseSchema,
      sessionId: orchestratorSessionId,
    });
  }

  /**
   * Graceful stop (contract v2): the orchestrator answers once the agent's
   * whole tree is gone, after the grace at the latest, so the call waits for
   * the grace on top of the kill timeout.
   */
  async cancel(orchestratorSessionId: string, request: CancelRequest = {}): Promise<CancelResponse> {
    return this.callWithRetry({
      name: 'cancel',
      method: 'POST',
      path: sessionPath(orchestratorSessionId, 'cancel'),
      timeoutMs: this.cancelTimeoutMs(request.grace_ms),
      schema: cancelResponseSchema,
      body: request,
      sessionId: orchestratorSessionId,
    });
  }

  /** How long one cancel attempt may take: without `grace_ms` the orchestrator's default grace is assumed. */
  cancelTimeoutMs(graceMs = DEFAULT_CANCEL_GRACE_MS): number {
    return graceMs + this.config.orchestrator.timeoutsMs.kill;
  }

  list(query: ListSessionsQuery): Promise<ListResponse> {
    const params = new URLSearchParams();
    if (query.status !== undefined) params.set('status', query.status);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    return this.callWithRetry({
      name: 'list',
      method: 'GET',
      path: '/orchestrator/sessions',
      timeoutMs: this.config.orchestrator.timeoutsMs.list,
      schema: listResponseSchema,
      params,
    });
  }

  /**
   * The session a spawn with this Idempotency-Key started, or undefined when
   * the orchestrator knows none: it never got the spawn, could not start it, or
   * has forgotten it (after its retention).
   */
  async findSpawned(idempotencyKey: string): Promise<SessionStatusResponse | undefined> {
    const page = await this.callWithRetry({
      name: 'list',
      method: 'GET',
      path: '/orchestrator/sessions',
      timeoutMs: this.config.orchestrator.timeoutsMs.list,
      schema: listResponseSchema,
      params: new URLSearchParams({ idempotency_key: idempotencyKey }),
    });
    return page.sessions[0];
  }

  /**
   * One attempt, no retry: a health probe reports the present, and its caller
   * polls again anyway. It can never open the breaker (only the calls dispatch
   * and operators depend on do), but its answer ends a run of failures, an
   * open breaker answers it at once and a probe after `halfOpenAfter` can
   * close it again. It asks every node at
   * once and takes the first good answer: the orchestrator is up while any
   * node answers, and each node's `/health` describes the whole cluster.
   */
  async health(): Promise<{ health: OrchestratorHealth; latencyMs: number }> {
    const operation: Operation<OrchestratorHealth> = {
      name: 'health',
      method: 'GET',
      path: '/health',
      timeoutMs: this.config.orchestrator.timeoutsMs.health,
      schema: orchestratorHealthSchema,
    };
    return this.timed('health', async () => {
      const started = performance.now();
      try {
        // A closed breaker does not count health probes: the endpoint is open, and a few probes against a slow
        // orchestrator (their timeout is shorter than a spawn's) must not open the breaker that dispatch needs. An open
        // breaker still answers them at once, and once half-open a probe is its trial, so a good answer closes it.
        // An answer while closed still ends the run of failures, or an outage's failures would outlive it.
        const attempt = () => this.askAllNodes(operation);
        const closed = this.breaker.state === CircuitState.Closed;
        const answer = closed ? await attempt() : await this.breaker.execute(attempt);
        if (closed) this.consecutiveFailures.success();
        const health = settle(answer);
        return { health, latencyMs: Math.round(performance.now() - started) };
      } catch (error) {
        throw this.toOrchestratorError(error, operation, 1);
      }
    });
  }

  private callWithRetry<T>(operation: Operation<T>): Promise<T> {
    return this.timed(operation.name, () => this.retried(operation));
  }

  /** Runs one call, retries and backoff included, and records how long it took and how it ended. */
  private async timed<T>(operation: OrchestratorOperation, call: () => Promise<T>): Promise<T> {
    const end = this.metrics.startOrchestratorCall(operation);
    try {
      const value = await call();
      end('ok');
      return value;
    } catch (error) {
      end(error instanceof OrchestratorError ? error.failure : 'error');
      throw error;
    }
  }

  private async retried<T>(operation: Operation<T>): Promise<T> {
    let attempts = 0;
    try {
      return await this.retry.execute(async () => {
        attempts += 1;
        return settle(await this.breaker.execute(() => this.attempt(operation)));
      });
    } catch (error) {
      throw this.toOrchestratorError(error, operation, attempts);
    }
  }

  /** One attempt of a call: at the next node in turn, and on to the following ones while nodes do not take it. */
  private attempt<T>(operation: Operation<T>): Promise<Answer<T>> {
    const first = this.nextNode;
    this.nextNode = (first + 1) % this.nodes.length;
    return this.failover.execute(({ attempt }) => this.send(operation, this.nodes[(first + attempt) % this.nodes.length]!));
  }

  /** The first node's good answer; failing that, a refusal, or the first node's failure when none answered. */
  private async askAllNodes<T>(operation: Operation<T>): Promise<Answer<T>> {
    const asked = this.nodes.map((node) => this.send(operation, node));
    try {
      return await Promise.any(
        asked.map((answer) => answer.then((settled) => ('value' in settled ? settled : Promise.reject(settled.refusal)))),
      );
    } catch {
      const outcomes = await Promise.allSettled(asked);
      const refusal = outcomes.find((outcome) => outcome.status === 'fulfilled');
      if (refusal !== undefined) return refusal.value;
      throw (outcomes[0] as PromiseRejectedResult).reason;
    }
  }

  private async send<T>(operation: Operation<T>, node: string): Promise<Answer<T>> {
    const { method, path, timeoutMs } = operation;
    const signal = AbortSignal.timeout(timeoutMs);
    // Every attempt is a span of its own, carrying the request id of what caused it.
    const call = requestTracing.startOutboundCall(
      `${method} ${operation.sessionId === undefined ? path : path.replace(encodeURIComponent(operation.sessionId), ':id')}`,
    );
    let response: AxiosResponse<unknown>;
    try {
      // The promise API, not the Observable one: `firstValueFrom` unsubscribes after the answer, and @nestjs/axios
      // then cancels the finished request, building a CanceledError (and its stack) on every call.
      response = await this.http.axiosRef.request<unknown>({
        method,
        baseURL: node,
        url: path,
        params: operation.params,
        data: operation.body,
        headers: { ...call.headers, authorization: `Bearer ${this.config.orchestrator.apiKey}`, ...operation.headers },
        timeout: timeoutMs,
        // Axios's own timeout only watches for an idle socket; the signal bounds the whole exchange.
        signal,
        maxRedirects: 0,
        responseType: 'json',
        validateStatus: () => true,
      });
    } catch (error) {
      call.end();
      throw this.missingAnswer(error, operation, signal, node);
    }
    call.end(response.status);
    return this.readAnswer(response, operation);
  }

  private missingAnswer(error: unknown, operation: Operation<unknown>, signal: AbortSignal, node: string): unknown {
    if (!(error instanceof AxiosError)) return error;
    const where = `${operation.method} ${operation.path}`;
    if (signal.aborted || TIMEOUT_CODES.has(error.code ?? '')) {
      return new AttemptFailure(
        new OrchestratorError('timeout', `orchestrator did not answer ${where} within ${operation.timeoutMs} ms`),
        true,
      );
    }
    const cause = error.code ?? error.message;
    return new AttemptFailure(
      new OrchestratorError('unreachable', `orchestrator at ${node} is unreachable (${cause}) for ${where}`),
      true,
      undefined,
      CONNECTION_FAILURE_CODES.has(error.code ?? ''),
    );
  }

  private readAnswer<T>(response: AxiosResponse<unknown>, operation: Operation<T>): Answer<T> {
    const where = `${operation.method} ${operation.path}`;
    const { status } = response;
    if (status >= 200 && status < 300) {
      const parsed = validate(operation.schema, response.data);
      if (parsed.ok) return { value: parsed.value };
      const message = `orchestrator sent a malformed answer to ${where}: ${parsed.message}`;
      return {
        refusal: new AttemptFailure(
          new OrchestratorError('rejected', message, { status, code: MALFORMED_ANSWER_CODE, message: parsed.message }),
          false,
        ),
      };
    }

    const answer = answerOf(response);
    if (status === 503 && QUEUE_FULL_CODES.has(answer.code)) {
      const retryAfterMs = parseRetryAfter(response.headers[HEADERS.retryAfter], Date.now());
      const message = `the orchestrator's queue is full; ${where} was refused (${answer.code}: ${answer.message})`;
      return { refusal: new AttemptFailure(new OrchestratorError('queue_full', message, answer, retryAfterMs), false) };
    }
    // A spawn's 400 is the task's fault (an agent this orchestrator cannot run, a repository it may not use): passed on as said.
    if (status === 400 && operation.name === 'spawn') {
      return { refusal: new AttemptFailure(new OrchestratorError('refused', answer.message, answer), false) };
    }
    if (status === 404 && operation.sessionId !== undefined) {
      const message = `orchestrator has no session ${JSON.stringify(operation.sessionId)} (${where} answered 404)`;
      return { refusal: new AttemptFailure(new OrchestratorError('not_found', message, answer), false) };
    }
    const failure = new AttemptFailure(
      new OrchestratorError('rejected', `orchestrator answered ${where} with ${status} ${answer.code}: ${answer.message}`, answer),
      RETRYABLE_STATUSES.has(status),
      RETRYABLE_STATUSES.has(status) ? parseRetryAfter(response.headers[HEADERS.retryAfter], Date.now()) : undefined,
    );
    if (isOrchestratorDown(status)) throw failure;
    return { refusal: failure };
  }

  private toOrchestratorError(error: unknown, operation: Operation<unknown>, attempts: number): unknown {
    if (isBrokenCircuitError(error) || isIsolatedCircuitError(error)) {
      return new OrchestratorError(
        'circuit_open',
        `orchestrator circuit is open after repeated failures; ${operation.method} ${operation.path} was not sent`,
      );
    }
    if (!(error instanceof AttemptFailure)) return error;
    if (attempts <= 1) return error.error;
    return new OrchestratorError(
      error.error.failure,
      `${error.error.message} (after ${attempts} attempts)`,
      error.error.answer,
      error.error.retryAfterMs,
    );
  }

  private logBreakerStateChanges(consecutiveFailures: number, halfOpenAfterMs: number): void {
    this.breaker.onBreak((reason) => {
      const last = 'error' in reason && reason.error instanceof Error ? `; last failure: ${reason.error.message}` : '';
      this.logger.warn(
        `orchestrator circuit opened after ${consecutiveFailures} consecutive failures; calls fail fast for ${halfOpenAfterMs} ms${last}`,
      );
    });
    this.breaker.onHalfOpen(() => this.logger.log('orchestrator circuit half-open: letting one call through'));
    this.breaker.onReset(() => this.logger.log('orchestrator circuit closed: the orchestrator answers again'));
  }
}

function settle<T>(answer: Answer<T>): T {
  if ('refusal' in answer) throw answer.refusal;
  return answer.value;
}

/**
 * 5xx means the orchestrator (or the way to it) is failing. A full queue is
 * answered before this is asked: the orchestrator is up and answering then,
 * and opening the breaker would also block the status and kill calls it serves.
 */
function isOrchestratorDown(status: number): boolean {
  return status >= 500;
}

function sessionPath(orchestratorSessionId: string, action: 'status' | 'kill' | 'cancel'): string {
  // `.` and `..` survive encodeURIComponent and would be resolved away as path segments.
  if (orchestratorSessionId === '' || orchestratorSessionId === '.' || orchestratorSessionId === '..') {
    throw new OrchestratorError('not_found', `${JSON.stringify(orchestratorSessionId)} is not an orchestrator session id`);
  }
  return `/orchestrator/sessions/${encodeURIComponent(orchestratorSessionId)}/${action}`;
}

function answerOf(response: AxiosResponse<unknown>): { status: number; code: string; message: string } {
  const body = validate(errorBodySchema, response.data);
  if (body.ok) return { status: response.status, code: body.value.error.code, message: body.value.error.message };
  return { status: response.status, code: `http_${response.status}`, message: 'the answer carried no contract error body' };
}
