import { recordFigures, scenario } from './scenario';
import { nodeLost } from './scenarios/node-lost';
import { nodeLostWhileStreaming } from './scenarios/node-lost-while-streaming';
import { queueOfThirty } from './scenarios/queue-of-thirty';

jest.setTimeout(180_000);
recordFigures(__filename);

const redis = process.env.TEST_REDIS_URL;

describe('reliability: a cluster of three nodes', () => {
  scenario('11. Queue of 30 on three nodes of capacity 2', queueOfThirty({ name: 'PostgreSQL', env: { QUEUE_URL: undefined } }));
  scenario('12. Node lost, API pointed at all three nodes', nodeLost);
  // Redis runs only where one answers.
  if (redis)
    scenario('14. Queue of 30 on three nodes of capacity 2, on Redis', queueOfThirty({ name: 'Redis', env: { QUEUE_URL: redis } }));
  scenario('18. A node lost while its sessions stream events to 50 stream clients', nodeLostWhileStreaming);
});
