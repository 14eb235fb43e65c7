import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { requestTracing } from '@mosaic/observability';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../../../test/support/eventually';
import type { CallbackDelivery } from '../callbacks/callback-delivery';
import { OrchestratorConfig } from '../config/orchestrator-config';
import { OrchestratorMetrics } from '../metrics/orchestrator-metrics';
import type { SessionStore, StoredSession } from '../store/session-store';
import { AGENT_ADAPTERS, AgentAdapters } from './adapters/agent-adapters';
import { SessionRunner } from './session-runner';

describe('SessionRunner: what an earlier life of the node left', () => {
  let scratch: string;
  let spool: string;
  let enqueued: CallbackEvent[];
  let dealtWith: ((done: boolean) => void) | undefined;
  let runner: SessionRunner;

  // A session that ended in an earlier life of this node with its last event undelivered: its spool is left over
  // (without a supervisor identity in it, so there is no agent to stop).
  const ended: StoredSession = {
    id: 'ended-session',
    status: 'completed',
    priority: 'normal',
    createdAt: new Date(),
    callback: { url: 'http://127.0.0.1:1/callbacks/1', token: 'token', origin: requestTracing.currentOrigin() },
    taskJson: '{}',
    spoolPosition: 3,
  };
  const lastEvent: CallbackEvent = {
    event_id: 'event-4',
    session_id: ended.id,
    sequence: 4,
    type: 'status',
    status: 'completed',
    timestamp: new Date().toISOString(),
    data: { exit_code: 0 },
  };

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'session-runner-spec-'));
    const config = OrchestratorConfig.fromEnvironment({
      NODE_ID: 'node-a',
      SESSION_SPOOL_ROOT: join(scratch, 'spools'),
      SESSION_WORKDIR_ROOT: join(scratch, 'sessions'),
    });
    spool = join(config.sessionSpoolDir, ended.id);
    mkdirSync(spool, { recursive: true });
    enqueued = [];
    dealtWith = undefined;
    const store: Pick<SessionStore, 'runningOn' | 'get' | 'unacknowledgedEvents'> = {
      runningOn: async () => [],
      get: async () => ended,
      unacknowledgedEvents: async () => [lastEvent],
    };
    // The API does not answer: the event is dealt with only when the test says so.
    const delivery: Pick<CallbackDelivery, 'enqueue' | 'whenDealtWith'> = {
      enqueue: (_target, event) => void enqueued.push(event),
      whenDealtWith: () => new Promise((resolve) => (dealtWith = resolve)),
    };
    runner = new SessionRunner(
      config,
      delivery as CallbackDelivery,
      new OrchestratorMetrics(),
      new AgentAdapters(config, AGENT_ADAPTERS, {}),
      store as SessionStore,
    );
  });

  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it("starts without waiting for a leftover session's undelivered events, and removes its spool once they are dealt with", async () => {
    await expect(runner.adoptAll()).resolves.toEqual([]);
    expect(enqueued).toEqual([lastEvent]);
    expect(existsSync(spool)).toBe(true);

    dealtWith!(true);
    await eventually(() => expect(existsSync(spool)).toBe(false), 2_000);
  });

  it('keeps the spool when delivery stops first, so that the next life finds it and sends what is left', async () => {
    await expect(runner.adoptAll()).resolves.toEqual([]);
    dealtWith!(false);
    await sleep(50);
    expect(existsSync(spool)).toBe(true);
  });
});
