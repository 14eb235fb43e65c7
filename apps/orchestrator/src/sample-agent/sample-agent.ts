/**
 * The bundled sample agent, the default AGENT_COMMAND. It shows the agent protocol:
 *
 * - The orchestrator names a JSON file in MOSAIC_TASK_FILE: `{ session_id, task, context }`.
 * - Each stdout line that is a JSON object with `type` `progress` (`message`, `percent`?)
 *   or `result` (`summary`?, `exit_code`?, `error`?) becomes a callback of that type;
 *   every other line, on stdout or stderr, becomes a `log` callback.
 * - A stdout JSON line with `type` `usage` (`input_tokens`?, `output_tokens`?, `cost_usd`?,
 *   `model`?, at least one of the three counts) reports what the agent spent since its
 *   previous usage line, and becomes a `usage` callback; usage held back by the rate
 *   limit is added up rather than replaced. This agent reports usage after each step.
 * - The exit code decides the session's end: 0 `completed`, anything else `failed`.
 * - A cancel sends SIGTERM and kills the agent if it has not exited when the grace ends;
 *   an agent that exits in time, with any code, ends `cancelled` all the same.
 *
 * What it does can be steered through `task.metadata.sample_agent`, so that tests and
 * demos reach every path: `steps` and `step_ms` (progress reports), `duration_ms` (run at
 * least this long), `exit_code` (fail with it), `stderr` (lines to print on stderr),
 * `log_lines` (plain stdout lines to print), `children` (processes to start that each
 * start a grandchild and then sleep forever, as a runaway tool would), `ignore_sigterm`
 * (stay deaf to a cancel's SIGTERM, so that its SIGKILL at the end of the grace shows),
 * `usage_per_step` (`{ input_tokens, output_tokens }` to report for each step, priced
 * as `sample-model-1`; `null` reports no usage; by default a few hundred to a few
 * thousand input tokens and fewer output tokens, varying from step to step).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const optionsSchema = z.object({
  steps: z.number().int().min(0).max(1000).default(3),
  step_ms: z.number().int().min(0).default(50),
  duration_ms: z.number().int().min(0).default(0),
  exit_code: z.number().int().min(0).max(255).default(0),
  stderr: z.array(z.string()).default([]),
  log_lines: z.number().int().min(0).default(0),
  children: z.number().int().min(0).max(16).default(0),
  ignore_sigterm: z.boolean().default(false),
  usage_per_step: z
    .strictObject({ input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0) })
    .nullable()
    .optional(),
});
type Options = z.infer<typeof optionsSchema>;

const taskFileSchema = z.object({
  session_id: z.string(),
  task: z.looseObject({ id: z.string(), title: z.string(), metadata: z.looseObject({ sample_agent: z.unknown().optional() }).optional() }),
});

/** Started by `children`: starts one grandchild that sleeps too, so the kill has a whole tree to take down. */
const CHILD_SCRIPT = `
const { spawn } = require('node:child_process');
spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
setInterval(() => {}, 1000);
`;

/** The model this agent says it runs on, at made-up prices in USD per million tokens. */
const MODEL = { name: 'sample-model-1', inputUsdPerMillionTokens: 3, outputUsdPerMillionTokens: 15 };

/** The usage line for one step, or none for a task that asked for none. */
function usageOf(step: number, perStep: Options['usage_per_step']): object | undefined {
  if (perStep === null) return undefined;
  const tokens = perStep ?? { input_tokens: 400 + ((step * 937) % 2600), output_tokens: 50 + ((step * 211) % 350) };
  // Whole micro-dollars divided once: the cost prints as a short decimal.
  const costUsd = (tokens.input_tokens * MODEL.inputUsdPerMillionTokens + tokens.output_tokens * MODEL.outputUsdPerMillionTokens) / 1e6;
  return { type: 'usage', ...tokens, cost_usd: costUsd, model: MODEL.name };
}

function say(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<number> {
  // eslint-disable-next-line no-restricted-properties -- a program of its own, started by the orchestrator: this is its entry point.
  const taskFile = process.env.MOSAIC_TASK_FILE;
  if (!taskFile) {
    process.stderr.write('sample agent: MOSAIC_TASK_FILE is not set\n');
    return 2;
  }
  const { session_id: sessionId, task } = taskFileSchema.parse(JSON.parse(readFileSync(taskFile, 'utf8')));
  const parsedOptions = optionsSchema.safeParse(task.metadata?.sample_agent ?? {});
  if (!parsedOptions.success) {
    process.stderr.write(`sample agent: invalid task.metadata.sample_agent: ${parsedOptions.error.message}\n`);
    return 2;
  }
  const options = parsedOptions.data;
  const startedAt = Date.now();
  process.on('SIGTERM', () => {
    if (options.ignore_sigterm) {
      process.stdout.write('sample agent: got SIGTERM, ignoring it as the task asked\n');
      return;
    }
    process.stdout.write('sample agent: got SIGTERM, stopping\n');
    process.exit(0);
  });

  process.stdout.write(`sample agent working on task ${task.id} (${task.title}) in session ${sessionId}\n`);
  for (const line of options.stderr) process.stderr.write(`${line}\n`);
  for (let line = 1; line <= options.log_lines; line++) process.stdout.write(`log line ${line} of ${options.log_lines}\n`);
  if (options.children > 0) {
    const pids = Array.from({ length: options.children }, () => spawn(process.execPath, ['-e', CHILD_SCRIPT], { stdio: 'ignore' }).pid);
    process.stdout.write(`started child processes ${pids.join(' ')}\n`);
  }

  for (let step = 1; step <= options.steps; step++) {
    await sleep(options.step_ms);
    say({ type: 'progress', message: `step ${step} of ${options.steps}`, percent: Math.round((step / options.steps) * 100) });
    const usage = usageOf(step, options.usage_per_step);
    if (usage) say(usage);
  }
  const remaining = options.duration_ms - (Date.now() - startedAt);
  if (remaining > 0) await sleep(remaining);

  if (options.exit_code !== 0) {
    say({ type: 'result', exit_code: options.exit_code, error: `failing with exit code ${options.exit_code}, as the task asked` });
    return options.exit_code;
  }
  say({ type: 'result', exit_code: 0, summary: `task ${task.id} done in ${options.steps} step(s)` });
  return 0;
}

main().then(
  // Children (if any) would keep the event loop alive; the agent is done, so it exits.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sample agent failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
