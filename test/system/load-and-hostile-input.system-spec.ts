import { recordFigures, scenario } from './scenario';
import { concurrentDispatches } from './scenarios/concurrent-dispatches';
import { forgingAgents } from './scenarios/forging-agents';
import { hostileInputAgainstCallbacksAndOperators } from './scenarios/hostile-callbacks-and-operators';
import { hostileInputAgainstNewEndpoints } from './scenarios/hostile-new-endpoints';
import { loadOfFiftySessions } from './scenarios/load-of-fifty-sessions';
import { streamFloodWhileReporting } from './scenarios/stream-flood-while-reporting';

jest.setTimeout(180_000);
recordFigures(__filename);

describe('reliability: load and hostile input', () => {
  scenario('7. Three API instances, 200 concurrent dispatches', concurrentDispatches);
  scenario('8. Load: 50 sessions of 200 events each', loadOfFiftySessions);
  scenario('10. Hostile input against the callback and operator endpoints', hostileInputAgainstCallbacksAndOperators);
  scenario('20. Hostile input against the new endpoints', hostileInputAgainstNewEndpoints);
  scenario('21. A flood of 20,000 event-stream connections while 20 sessions report', streamFloodWhileReporting);
  scenario("22. Agents that forge other sessions' records and stops, while 20 sessions with budgets run", forgingAgents);
});
