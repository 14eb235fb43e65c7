import { PRIORITY_RANK, type TaskPriority } from '@mosaic/orchestrator-contract';
import {
  createPostgresBackend,
  Queue,
  Worker,
  type Job,
  type JobsOptions,
  type PostgresConnectionOptions,
  type PostgresQueueBackend,
} from 'bullmq';
import { Redis } from 'ioredis';
import type { QueueConnection } from '../store/queue-connection';

const QUEUE_NAME = 'sessions';

interface SessionJob {
  session_id: string;
}

/**
 * The cluster's queue of sessions waiting for an agent slot, on BullMQ: the job id
 * is the session id (a second add of one session is a no-op), its priority the
 * session's (urgent first, then oldest first, which is BullMQ's order within one
 * priority). The job stays active while its agent runs, so a worker's
 * concurrency is this node's capacity. The queue only orders and hands out work:
 * whether a session may start is decided by the store's claim, so a job handed out
 * twice (a stalled job moved back by BullMQ after its node died) starts nothing.
 */
/** What this class uses of a Queue, whichever backend it runs on. */
interface QueueHandle {
  add(name: string, data: SessionJob, options: JobsOptions): Promise<unknown>;
  remove(jobId: string): Promise<unknown>;
  close(): Promise<void>;
}
type WorkerHandle = Pick<Worker, 'pause' | 'close' | 'concurrency' | 'isRunning' | 'run'>;
type PostgresQueue = Queue<SessionJob, unknown, string, SessionJob, unknown, string, PostgresQueueBackend, PostgresConnectionOptions>;
type PostgresWorker = Worker<SessionJob, unknown, string, PostgresQueueBackend, number, PostgresConnectionOptions>;

export class SessionQueue {
  private worker?: WorkerHandle;
  private stopped = false;

  private constructor(
    private readonly connection: QueueConnection,
    private readonly queue: QueueHandle,
    private readonly redisClients: Redis[],
  ) {}

  static open(connection: QueueConnection): SessionQueue {
    const redisClients: Redis[] = [];
    const queue =
      connection.kind === 'redis'
        ? new Queue<SessionJob>(QUEUE_NAME, redisOptions(connection, redisClients))
        : (new Queue(QUEUE_NAME, postgresOptions(connection), createPostgresBackend) as PostgresQueue);
    return new SessionQueue(connection, queue, redisClients);
  }

  async add(sessionId: string, priority: TaskPriority): Promise<void> {
    await this.queue.add(
      'session',
      { session_id: sessionId },
      { jobId: sessionId, priority: PRIORITY_RANK[priority], removeOnComplete: true, removeOnFail: true },
    );
  }

  /** Takes a waiting session out of the queue; one a worker already holds stays (its claim fails instead). */
  async remove(sessionId: string): Promise<void> {
    await this.queue.remove(sessionId);
  }

  /**
   * Runs `run` for each session this node takes, at most `concurrency` at a time; with
   * none (every slot is taken by an adopted agent) it waits for `setConcurrency`.
   */
  startWorker(concurrency: number, run: (sessionId: string) => Promise<void>): void {
    const processor = (job: Job<SessionJob>) => run(job.data.session_id);
    const options = { concurrency: Math.max(1, concurrency), autorun: concurrency > 0 };
    const worker =
      this.connection.kind === 'redis'
        ? new Worker<SessionJob>(QUEUE_NAME, processor, { ...redisOptions(this.connection, this.redisClients), ...options })
        : (new Worker(QUEUE_NAME, processor, { ...postgresOptions(this.connection), ...options }, createPostgresBackend) as PostgresWorker);
    // A lost connection is retried by BullMQ itself; without a listener Node would treat the event as fatal.
    worker.on('error', () => undefined);
    this.worker = worker;
  }

  /** Changes how many sessions the worker runs at once (slots an adopted agent gave back); it starts once there is one. */
  setConcurrency(concurrency: number): void {
    const worker = this.worker;
    if (!worker || this.stopped || concurrency < 1) return;
    worker.concurrency = concurrency;
    // The worker runs until it is closed; its failures surface through its 'error' events.
    if (!worker.isRunning()) void worker.run().catch(() => undefined);
  }

  /** Takes no more sessions; those running keep their slots until they end. */
  async stopTaking(): Promise<void> {
    this.stopped = true;
    await this.worker?.pause(true);
  }

  async close(): Promise<void> {
    await this.worker?.close(true);
    await this.queue.close();
    for (const client of this.redisClients) client.disconnect();
  }
}

/** BullMQ's blocking commands need a client that retries forever; each Queue and Worker gets its own. */
function redisOptions(connection: QueueConnection, clients: Redis[]) {
  const client = new Redis(connection.url, { maxRetriesPerRequest: null });
  clients.push(client);
  return { connection: client, prefix: `${connection.prefix}:bull` };
}

function postgresOptions(connection: QueueConnection) {
  return { connection: { connectionString: connection.url, schema: `${connection.prefix}_bullmq`, migrate: true } };
}
