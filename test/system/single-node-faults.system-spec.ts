import { recordFigures, scenario } from './scenario';
import { apiKilledWhileCallbacksFlow } from './scenarios/api-killed-while-callbacks-flow';
import { budgetCrossedAtOnce } from './scenarios/budget-crossed-at-once';
import { cancelTiming } from './scenarios/cancel-timing';
import { killStorm } from './scenarios/kill-storm';
import { orchestratorDownAtDispatch } from './scenarios/orchestrator-down-at-dispatch';
import { orchestratorKilledAgentsAdopted } from './scenarios/orchestrator-killed-agents-adopted';
import { slowOrchestrator } from './scenarios/slow-orchestrator';
import { spawnAnswerLost } from './scenarios/spawn-answer-lost';

jest.setTimeout(180_000);
recordFigures(__filename);

describe('reliability: faults around one orchestrator node', () => {
  scenario('1. Orchestrator down at dispatch, back up later', orchestratorDownAtDispatch);
  scenario('2. Spawn answer lost, retried with the same key', spawnAnswerLost);
  scenario('3. Slow orchestrator', slowOrchestrator);
  scenario('4. API killed (SIGKILL) while callbacks flow, then restarted', apiKilledWhileCallbacksFlow);
  scenario('6. Orchestrator killed mid-session, its agents adopted', orchestratorKilledAgentsAdopted);
  scenario('9. Kill storm', killStorm);
  scenario('13. Cancel timing', cancelTiming);
  scenario('15. A budget crossed by 20 sessions at once, through two API instances', budgetCrossedAtOnce);
});
