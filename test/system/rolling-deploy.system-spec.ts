import { recordFigures, scenario } from './scenario';
import { rollingDeploy } from './scenarios/rolling-deploy';

jest.setTimeout(180_000);
recordFigures(__filename);

describe('reliability: a rolling deploy under a long queue', () => {
  scenario('19. Rolling deploy: 1,000 queued sessions, three nodes restarted one after another', rollingDeploy);
});
