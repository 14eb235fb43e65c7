import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAgentLine } from '../agents/agent-output';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'sample-agent-spec-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs the sample agent from its source on a task with these `sample_agent` options; what its stdout means to the orchestrator. */
async function run(sampleAgent: Record<string, unknown>) {
  const taskFile = join(dir, `${randomUUID()}.json`);
  await writeFile(
    taskFile,
    JSON.stringify({ session_id: 's-1', task: { id: 't-1', title: 'a task', metadata: { sample_agent: sampleAgent } }, context: {} }),
  );
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'sample-agent.ts')],
    {
      env: { ...process.env, MOSAIC_TASK_FILE: taskFile },
    },
  );
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => parseAgentLine('stdout', line));
}

const usageOf = (messages: Awaited<ReturnType<typeof run>>) =>
  messages.flatMap((message) => (message.type === 'usage' ? [message.data] : []));

describe('the sample agent', () => {
  it('reports the usage of each step after its progress, priced as sample-model-1', async () => {
    const messages = await run({ steps: 3, step_ms: 0 });

    expect(messages.map((message) => message.type)).toEqual([
      'log',
      'progress',
      'usage',
      'progress',
      'usage',
      'progress',
      'usage',
      'result',
    ]);
    for (const usage of usageOf(messages)) {
      expect(usage).toEqual({
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        cost_usd: expect.any(Number),
        model: 'sample-model-1',
      });
      expect(usage.input_tokens).toBeGreaterThanOrEqual(400);
      expect(usage.input_tokens).toBeLessThan(3000);
      expect(usage.output_tokens).toBeLessThan(usage.input_tokens!);
      expect(usage.cost_usd).toBeCloseTo((usage.input_tokens! * 3 + usage.output_tokens! * 15) / 1e6, 12);
    }
  }, 20_000);

  it('reports exactly the tokens usage_per_step asks for, and none for null', async () => {
    const [exact, none] = await Promise.all([
      run({ steps: 2, step_ms: 0, usage_per_step: { input_tokens: 100, output_tokens: 0 } }),
      run({ steps: 2, step_ms: 0, usage_per_step: null }),
    ]);

    expect(usageOf(exact)).toEqual(Array(2).fill({ input_tokens: 100, output_tokens: 0, cost_usd: 0.0003, model: 'sample-model-1' }));
    expect(none.map((message) => message.type)).toEqual(['log', 'progress', 'progress', 'result']);
  }, 20_000);
});
