import fc from 'fast-check';
import { type UsageData, USAGE_LIMITS, usageDataSchema } from '@mosaic/orchestrator-contract';
import type { LogLineDropReason } from '../metrics/orchestrator-metrics';
import type { AgentMessage } from './agent-output';
import { MAX_HELD_BACK_MODELS, OutputThrottle, RETRY_HELD_BACK_MS } from './output-throttle';

const progress = (message: string): AgentMessage => ({ type: 'progress', data: { message } });
const result = (summary: string): AgentMessage => ({ type: 'result', data: { summary } });
const log = (line: string): AgentMessage => ({ type: 'log', data: { stream: 'stdout', line } });
const usage = (data: UsageData): AgentMessage => ({ type: 'usage', data });

/** A throttle on fake time (jest's fake timers drive both its clock and its retry timer), recording what it does. */
function throttled(linesPerSecond: number) {
  const sent: AgentMessage[] = [];
  const dropped: LogLineDropReason[] = [];
  const queue = { room: true };
  const throttle = new OutputThrottle({
    linesPerSecond,
    hasRoom: () => queue.room,
    send: (message) => sent.push(message),
    onLogLineDropped: (reason) => dropped.push(reason),
  });
  const lines = () => sent.flatMap((message) => (message.type === 'log' ? [message.data.line] : []));
  const messages = (type: 'progress' | 'result' | 'usage') => sent.filter((message) => message.type === type);
  return { throttle, sent, dropped, queue, lines, messages };
}

describe('OutputThrottle', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('holds progress to the rate, keeping only the latest while over it, and sends that when a token frees', () => {
    const { throttle, messages } = throttled(5);

    for (let step = 1; step <= 100; step++) throttle.offer(progress(`step ${step}`));
    expect(messages('progress')).toEqual([1, 2, 3, 4, 5].map((step) => progress(`step ${step}`)));

    jest.advanceTimersByTime(RETRY_HELD_BACK_MS);
    expect(messages('progress').at(-1)).toEqual(progress('step 100'));
    expect(messages('progress')).toHaveLength(6);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('never sends progress faster than the rate, and always sends the last one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 300 }),
        (rate, gaps) => {
          const { throttle, messages } = throttled(rate);
          const start = Date.now();
          gaps.forEach((gap, index) => {
            jest.advanceTimersByTime(gap);
            throttle.offer(progress(`${index}`));
          });
          const elapsedMs = Date.now() - start;
          const sent = messages('progress').map((message) => Number((message.data as { message: string }).message));

          // One second's burst, then the rate.
          expect(sent.length).toBeLessThanOrEqual(rate + Math.ceil((elapsedMs / 1000) * rate));
          expect([...sent].sort((a, b) => a - b)).toEqual(sent);
          throttle.end();
          expect(messages('progress').at(-1)).toEqual(progress(`${gaps.length - 1}`));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('drops log lines over the rate, counts them, and reports the count with the next line that passes', () => {
    const { throttle, dropped, lines } = throttled(2);

    for (let index = 1; index <= 5; index++) throttle.offer(log(`line ${index}`));
    expect(lines()).toEqual(['line 1', 'line 2']);
    expect(dropped).toEqual(['rate_limit', 'rate_limit', 'rate_limit']);

    // A token is free again before the retry timer took it.
    jest.setSystemTime(Date.now() + 600);
    throttle.offer(log('line 6'));
    expect(lines()).toEqual([
      'line 1',
      'line 2',
      "orchestrator: 3 log line(s) dropped (3 over the limit of 2 a second, 0 while the session's callbacks could not be delivered)",
      'line 6',
    ]);
  });

  it('reports dropped lines on its own once the agent has gone quiet', () => {
    const { throttle, lines } = throttled(1);

    throttle.offer(log('a'));
    throttle.offer(log('b'));
    jest.advanceTimersByTime(1000);

    expect(lines()).toEqual(['a', expect.stringMatching(/^orchestrator: 1 log line\(s\) dropped \(1 over the limit/)]);
  });

  it('while the callback queue is full, drops log lines and coalesces progress and result; sends them when room returns', () => {
    const { throttle, dropped, queue, sent } = throttled(100);
    queue.room = false;

    for (let index = 1; index <= 10; index++) throttle.offer(log(`line ${index}`));
    throttle.offer(progress('p1'));
    throttle.offer(result('r1'));
    throttle.offer(progress('p2'));
    jest.advanceTimersByTime(10 * RETRY_HELD_BACK_MS);

    expect(sent).toEqual([]);
    expect(dropped).toEqual(Array(10).fill('queue_full'));

    queue.room = true;
    jest.advanceTimersByTime(RETRY_HELD_BACK_MS);
    expect(sent).toEqual([
      result('r1'),
      progress('p2'),
      {
        type: 'log',
        data: {
          stream: 'stderr',
          line: "orchestrator: 10 log line(s) dropped (0 over the limit of 100 a second, 10 while the session's callbacks could not be delivered)",
        },
      },
    ]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('sends what it holds at the end, whatever the room and the rate, and takes nothing after', () => {
    const { throttle, queue, sent } = throttled(0);
    queue.room = false;
    throttle.offer(progress('p'));
    throttle.offer(log('l'));
    throttle.offer(result('r'));

    throttle.end();
    throttle.offer(progress('late'));

    expect(sent).toEqual([
      { type: 'log', data: { stream: 'stderr', line: expect.stringMatching(/^orchestrator: 1 log line\(s\) dropped/) } },
      progress('p'),
      result('r'),
    ]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('adds up usage held back while the queue is full, per model, each sum in the place of its first report', () => {
    const { throttle, queue, sent } = throttled(100);
    queue.room = false;

    throttle.offer(usage({ input_tokens: 100, cost_usd: 0.25, model: 'a' }));
    throttle.offer(progress('p1'));
    throttle.offer({ ...usage({ output_tokens: 7 }), seq: 3 });
    throttle.offer({ ...usage({ input_tokens: 50, output_tokens: 10, cost_usd: 0.5, model: 'a' }), seq: 4 });
    throttle.offer(usage({ input_tokens: 1, model: 'b' }));
    throttle.offer({ ...usage({ cost_usd: 1 }), seq: 6 });
    queue.room = true;
    jest.advanceTimersByTime(RETRY_HELD_BACK_MS);

    expect(sent).toEqual([
      { type: 'usage', data: { input_tokens: 150, output_tokens: 10, cost_usd: 0.75, model: 'a' }, seq: 4 },
      progress('p1'),
      { type: 'usage', data: { output_tokens: 7, cost_usd: 1 }, seq: 6 },
      usage({ input_tokens: 1, model: 'b' }),
    ]);
  });

  it(`keeps at most ${MAX_HELD_BACK_MODELS} models apart, adding any further model's usage to the usage that names none`, () => {
    const { throttle, queue, messages } = throttled(100);
    queue.room = false;

    for (let model = 0; model < MAX_HELD_BACK_MODELS + 3; model++) throttle.offer(usage({ input_tokens: model, model: `m${model}` }));
    throttle.offer(usage({ input_tokens: 1000 }));
    throttle.end();

    expect(messages('usage')).toEqual([
      ...Array.from({ length: MAX_HELD_BACK_MODELS }, (_, model) => usage({ input_tokens: model, model: `m${model}` })),
      usage({ input_tokens: MAX_HELD_BACK_MODELS + (MAX_HELD_BACK_MODELS + 1) + (MAX_HELD_BACK_MODELS + 2) + 1000 }),
    ]);
  });

  it('turns a report that would take a held-back sum past what one report may carry into a log line, uncounted', () => {
    const { throttle, messages, lines } = throttled(1);
    const half = usage({ input_tokens: USAGE_LIMITS.tokensPerReport / 2, model: 'a' });

    throttle.offer(half);
    throttle.offer(half);
    throttle.offer(half);
    throttle.offer(usage({ input_tokens: 1, model: 'a' }));
    jest.advanceTimersByTime(1000);

    expect(messages('usage')).toEqual([half, usage({ input_tokens: USAGE_LIMITS.tokensPerReport, model: 'a' })]);
    expect(lines()).toEqual([
      'orchestrator: usage not counted, as with the usage not sent yet it would exceed what one report may carry: {"input_tokens":1,"model":"a"}',
    ]);
  });

  it('sends, whatever the timing, the room and the rate, usage that adds up to exactly what was reported, per model', () => {
    const report = fc
      .record(
        {
          input_tokens: fc.integer({ min: 0, max: 5000 }),
          output_tokens: fc.integer({ min: 0, max: 5000 }),
          cost_usd: fc.double({ min: 0, max: 10, noNaN: true }),
          model: fc.constantFrom('a', 'b', 'c'),
        },
        { requiredKeys: [] },
      )
      .filter((data) => usageDataSchema.safeParse(data).success);
    const step = fc.record({
      gapMs: fc.integer({ min: 0, max: 600 }),
      room: fc.boolean(),
      report: fc.oneof(report, fc.constant(undefined)),
    });
    const totals = (reports: UsageData[]) => {
      const byModel = new Map<string, { input_tokens: number; output_tokens: number; cost_usd: number }>();
      for (const data of reports) {
        const total = byModel.get(data.model ?? '') ?? { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
        byModel.set(data.model ?? '', {
          input_tokens: total.input_tokens + (data.input_tokens ?? 0),
          output_tokens: total.output_tokens + (data.output_tokens ?? 0),
          cost_usd: total.cost_usd + (data.cost_usd ?? 0),
        });
      }
      return byModel;
    };

    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(step, { minLength: 1, maxLength: 200 }), (rate, steps) => {
        const { throttle, queue, messages } = throttled(rate);
        const reported: UsageData[] = [];
        for (const { gapMs, room, report: data } of steps) {
          jest.advanceTimersByTime(gapMs);
          queue.room = room;
          if (data === undefined) {
            throttle.offer(progress('between'));
          } else {
            reported.push(data);
            throttle.offer(usage(data));
          }
        }
        throttle.end();
        const sent = messages('usage').map((message) => message.data as UsageData);

        for (const data of sent) expect(usageDataSchema.safeParse(data).error).toBeUndefined();
        const [expected, actual] = [totals(reported), totals(sent)];
        expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [model, total] of expected) {
          expect(actual.get(model)).toEqual({
            input_tokens: total.input_tokens,
            output_tokens: total.output_tokens,
            cost_usd: expect.closeTo(total.cost_usd, 6),
          });
        }
      }),
      { numRuns: 100 },
    );
  });
});
