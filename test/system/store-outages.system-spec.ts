import { recordFigures, scenario } from './scenario';
import { postgresRestartedMidLoad } from './scenarios/postgres-restart-mid-load';
import { postgresRestartedUnderOrchestrator } from './scenarios/postgres-restart-under-orchestrator';
import { redisRestartedMidLoad } from './scenarios/redis-restart';

jest.setTimeout(180_000);
recordFigures(__filename);

describe('reliability: the stores restarted under load', () => {
  scenario('5. PostgreSQL restarted mid-load', postgresRestartedMidLoad);
  scenario('16. Redis restarted mid-load, cluster on Redis', redisRestartedMidLoad);
  scenario('17. PostgreSQL restarted under the orchestrator, cluster on PostgreSQL', postgresRestartedUnderOrchestrator);
});
