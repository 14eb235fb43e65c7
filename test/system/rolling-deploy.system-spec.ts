import { recordFigures, scenario } from './scenario';
import { rollingDeploy } from './scenarios/rolling-deploy';

// A cap, not a bound: 1,000 sessions through three restarts take 100–180 s, depending on the machine.
jest.setTimeout(300_000);
recordFigures(__filename);

describe('reliability: a rolling deploy under a long queue', () => {
  scenario('19. Rolling deploy: 1,000 queued sessions, three nodes restarted one after another', rollingDeploy);
});
