import fc from 'fast-check';
import type { LogLineDropReason } from '../metrics/orchestrator-metrics';
import type { AgentMessage } from './agent-output';
import { OutputThrottle, RETRY_HELD_BACK_MS } from './output-throttle';

const progress = (message: string): AgentMessage => ({ type: 'progress', data: { message } });
const result = (summary: string): AgentMessage => ({ type: 'result', data: { summary } });
const log = (line: string): AgentMessage => ({ type: 'log', data: { stream: 'stdout', line } });

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
  const messages = (type: 'progress' | 'result') => sent.filter((message) => message.type === type);
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
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 300 }), (rate, gaps) => {
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
      }),
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
      'orchestrator: 3 log line(s) dropped (3 over the limit of 2 a second, 0 while the session\'s callbacks could not be delivered)',
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
      { type: 'log', data: { stream: 'stderr', line: "orchestrator: 10 log line(s) dropped (0 over the limit of 100 a second, 10 while the session's callbacks could not be delivered)" } },
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
});
