import { join } from 'node:path';
import { REPO_ROOT } from './harness';
import { writeReliabilityReport } from './report';
import { figures, scenario } from './scenario';
import { apiKilledWhileCallbacksFlow } from './scenarios/api-killed-while-callbacks-flow';
import { budgetCrossedAtOnce } from './scenarios/budget-crossed-at-once';
import { cancelTiming } from './scenarios/cancel-timing';
import { concurrentDispatches } from './scenarios/concurrent-dispatches';
import { hostileInputAgainstCallbacksAndOperators } from './scenarios/hostile-callbacks-and-operators';
import { hostileInputAgainstNewEndpoints } from './scenarios/hostile-new-endpoints';
import { killStorm } from './scenarios/kill-storm';
import { loadOfFiftySessions } from './scenarios/load-of-fifty-sessions';
import { nodeLost } from './scenarios/node-lost';
import { nodeLostWhileStreaming } from './scenarios/node-lost-while-streaming';
import { orchestratorDownAtDispatch } from './scenarios/orchestrator-down-at-dispatch';
import { orchestratorKilledAgentsAdopted } from './scenarios/orchestrator-killed-agents-adopted';
import { postgresRestartedMidLoad } from './scenarios/postgres-restart-mid-load';
import { postgresRestartedUnderOrchestrator } from './scenarios/postgres-restart-under-orchestrator';
import { queueOfThirty } from './scenarios/queue-of-thirty';
import { redisRestartedMidLoad } from './scenarios/redis-restart';
import { rollingDeploy } from './scenarios/rolling-deploy';
import { slowOrchestrator } from './scenarios/slow-orchestrator';
import { spawnAnswerLost } from './scenarios/spawn-answer-lost';

jest.setTimeout(180_000);

afterAll(() => {
  if (figures.length > 0) writeReliabilityReport(join(REPO_ROOT, 'docs', 'reliability.md'), figures);
});

const redis = process.env.TEST_REDIS_URL;

describe('reliability of the real services under faults, load and hostile input', () => {
  scenario('1. Orchestrator down at dispatch, back up later', orchestratorDownAtDispatch);
  scenario('2. Spawn answer lost, retried with the same key', spawnAnswerLost);
  scenario('3. Slow orchestrator', slowOrchestrator);
  scenario('4. API killed (SIGKILL) while callbacks flow, then restarted', apiKilledWhileCallbacksFlow);
  scenario('5. PostgreSQL restarted mid-load', postgresRestartedMidLoad);
  scenario('6. Orchestrator killed mid-session, its agents adopted', orchestratorKilledAgentsAdopted);
  scenario('7. Three API instances, 200 concurrent dispatches', concurrentDispatches);
  scenario('8. Load: 50 sessions of 200 events each', loadOfFiftySessions);
  scenario('9. Kill storm', killStorm);
  scenario('10. Hostile input against the callback and operator endpoints', hostileInputAgainstCallbacksAndOperators);
  scenario('11. Queue of 30 on three nodes of capacity 2', queueOfThirty({ name: 'PostgreSQL', env: { QUEUE_URL: undefined } }));
  scenario('12. Node lost, API pointed at all three nodes', nodeLost);
  scenario('13. Cancel timing', cancelTiming);
  // Redis runs only where one answers.
  if (redis)
    scenario('14. Queue of 30 on three nodes of capacity 2, on Redis', queueOfThirty({ name: 'Redis', env: { QUEUE_URL: redis } }));
  scenario('15. A budget crossed by 20 sessions at once, through two API instances', budgetCrossedAtOnce);
  scenario('16. Redis restarted mid-load, cluster on Redis', redisRestartedMidLoad);
  scenario('17. PostgreSQL restarted under the orchestrator, cluster on PostgreSQL', postgresRestartedUnderOrchestrator);
  scenario('18. A node lost while its sessions stream events to 50 stream clients', nodeLostWhileStreaming);
  scenario('19. Rolling deploy: 1,000 queued sessions, three nodes restarted one after another', rollingDeploy);
  scenario('20. Hostile input against the new endpoints', hostileInputAgainstNewEndpoints);
});
