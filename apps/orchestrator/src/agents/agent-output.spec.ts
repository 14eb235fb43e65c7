import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import {
  type CallbackEvent,
  LIMITS,
  USAGE_LIMITS,
  callbackEventSchema,
  jsonEncodedBytes,
  unstorableText,
} from '@mosaic/orchestrator-contract';
import { type AgentMessage, type AgentStream, decodeSpooledLine, MAX_LINE_BYTES, parseAgentLine } from './agent-output';

describe('parseAgentLine', () => {
  it('turns stdout progress and result objects into messages of that type', () => {
    expect(parseAgentLine('stdout', '{"type":"progress","message":"half","percent":50}')).toEqual({
      type: 'progress',
      data: { message: 'half', percent: 50 },
    });
    expect(parseAgentLine('stdout', '{"type":"result","summary":"done","exit_code":0}')).toEqual({
      type: 'result',
      data: { summary: 'done', exit_code: 0 },
    });
  });

  it('turns stdout usage objects into usage messages, with whichever counts they carry', () => {
    expect(
      parseAgentLine('stdout', '{"type":"usage","input_tokens":1200,"output_tokens":300,"cost_usd":0.0081,"model":"sample-model-1"}'),
    ).toEqual({
      type: 'usage',
      data: { input_tokens: 1200, output_tokens: 300, cost_usd: 0.0081, model: 'sample-model-1' },
    });
    expect(parseAgentLine('stdout', '{"type":"usage","cost_usd":0}')).toEqual({ type: 'usage', data: { cost_usd: 0 } });
  });

  it.each([
    ['negative tokens', '{"type":"usage","input_tokens":-1}'],
    ['tokens over the limit', `{"type":"usage","output_tokens":${USAGE_LIMITS.tokensPerReport + 1}}`],
    ['a cost over the limit', `{"type":"usage","cost_usd":${USAGE_LIMITS.costUsdPerReport + 0.01}}`],
    ['a number too large for a double', '{"type":"usage","cost_usd":1e400}'],
    ['fractional tokens', '{"type":"usage","input_tokens":1.5}'],
    ['tokens as a string', '{"type":"usage","input_tokens":"12"}'],
    ['a cost of "NaN"', '{"type":"usage","cost_usd":"NaN"}'],
    ['a null count', '{"type":"usage","input_tokens":null,"output_tokens":3}'],
    ['no count at all', '{"type":"usage","model":"m"}'],
    ['an unknown field', '{"type":"usage","input_tokens":3,"cached_tokens":1}'],
    ['an empty model', '{"type":"usage","input_tokens":3,"model":""}'],
    ['a model of 201 characters', `{"type":"usage","input_tokens":3,"model":"${'m'.repeat(201)}"}`],
  ])('keeps a usage line with %s as a log line', (_, line) => {
    expect(parseAgentLine('stdout', line)).toEqual({ type: 'log', data: { stream: 'stdout', line } });
  });

  it.each([
    ['plain text', 'hello'],
    ['invalid JSON', '{"type":"progress"'],
    ['another type', '{"type":"status","status":"completed"}'],
    ['a progress without its message', '{"type":"progress","percent":5}'],
    ['a percent out of range', '{"type":"progress","message":"m","percent":150}'],
    ['an unknown field', '{"type":"result","summary":"s","extra":true}'],
    ['a JSON array', '[1,2]'],
  ])('keeps %s as a log line', (_, line) => {
    expect(parseAgentLine('stdout', line)).toEqual({ type: 'log', data: { stream: 'stdout', line } });
  });

  it('treats stderr as log output even when it looks like protocol', () => {
    const line = '{"type":"progress","message":"m"}';
    expect(parseAgentLine('stderr', line)).toEqual({ type: 'log', data: { stream: 'stderr', line } });
  });

  it('truncates a log line to what a log callback may carry', () => {
    const message = parseAgentLine('stdout', 'x'.repeat(20_000));
    expect(message.type).toBe('log');
    const line = (message.data as { line: string }).line;
    expect(jsonEncodedBytes(line)).toBe(LIMITS.logLineMaxEncodedBytes);
    expect(line.endsWith('[truncated]')).toBe(true);
  });

  it('cuts a line of control characters to the encoded size, so its callback fits the body limit', () => {
    const message = parseAgentLine('stderr', '\u0001'.repeat(16 * 1024));

    expect(jsonEncodedBytes(lineOf(message))).toBeLessThanOrEqual(LIMITS.logLineMaxEncodedBytes);
    expect(Buffer.byteLength(JSON.stringify(callbackOf(message)))).toBeLessThanOrEqual(LIMITS.callbackBodyMaxBytes);
  });

  it('cuts between code points, never inside a surrogate pair', () => {
    const line = lineOf(parseAgentLine('stdout', '🦊'.repeat(10_000)));

    expect(unstorableText(line)).toBeUndefined();
    expect(line).toMatch(/^(🦊)+ …\[truncated\]$/u);
  });

  it('replaces what the API cannot store (NUL, unpaired surrogates) with U+FFFD', () => {
    expect(lineOf(parseAgentLine('stdout', 'a\u0000b\uD800c'))).toBe('a\uFFFDb\uFFFDc');
    // A protocol line carrying them is kept as a log line, like any protocol line the API would refuse.
    expect(parseAgentLine('stdout', '{"type":"progress","message":"a\\u0000"}')).toEqual({
      type: 'log',
      data: { stream: 'stdout', line: '{"type":"progress","message":"a\\u0000"}' },
    });
  });

  it('keeps a result whose callback would exceed the body limit as a (cut) log line', () => {
    const line = JSON.stringify({ type: 'result', summary: '\u0001'.repeat(12_000) });
    const message = parseAgentLine('stdout', line);

    expect(message.type).toBe('log');
    expect(Buffer.byteLength(JSON.stringify(callbackOf(message)))).toBeLessThanOrEqual(LIMITS.callbackBodyMaxBytes);
  });

  it('turns any line into a callback the API accepts, within the body limit', () => {
    // Long lines built of short runs, so that control characters, surrogates and escapes pile up.
    const anyText = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc
        .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 12_000 }))
        .map(([run, times]) => run.repeat(times)),
    );
    const protocolLine = fc
      .oneof(
        fc.record(
          { type: fc.constant('progress'), message: anyText, percent: fc.double({ min: 0, max: 100, noNaN: true }) },
          { requiredKeys: ['type', 'message'] },
        ),
        fc.record({ type: fc.constant('result'), exit_code: fc.integer(), summary: anyText, error: anyText }, { requiredKeys: ['type'] }),
        fc.record(
          {
            type: fc.constant('usage'),
            input_tokens: fc.integer(),
            output_tokens: fc.double(),
            cost_usd: fc.double({ noNaN: true }),
            model: anyText,
          },
          { requiredKeys: ['type'] },
        ),
      )
      .map((fields) => JSON.stringify(fields));
    fc.assert(
      fc.property(fc.constantFrom<AgentStream>('stdout', 'stderr'), fc.oneof(anyText, protocolLine), (stream, line) => {
        const event = callbackOf(parseAgentLine(stream, line));

        expect(callbackEventSchema.safeParse(event).error).toBeUndefined();
        expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(LIMITS.callbackBodyMaxBytes);
      }),
      { numRuns: 300 },
    );
  });
});

function lineOf(message: AgentMessage): string {
  if (message.type !== 'log') throw new Error(`expected a log line, got ${message.type}`);
  return message.data.line;
}

/** The callback the supervisor would send for `message`, with the largest envelope it makes. */
function callbackOf(message: AgentMessage): CallbackEvent {
  return {
    event_id: randomUUID(),
    session_id: randomUUID(),
    sequence: 2_147_483_647,
    timestamp: new Date().toISOString(),
    ...(message.type === 'log' ? { type: 'log', data: message.data } : { type: message.type, status: 'running', data: message.data }),
  } as CallbackEvent;
}

describe('decodeSpooledLine', () => {
  it('strips a CR and keeps every character of a line within the limit, a replacement character too', () => {
    expect(decodeSpooledLine(Buffer.from('abc\r'))).toBe('abc');
    expect(decodeSpooledLine(Buffer.from('é and \uFFFD'))).toBe('é and \uFFFD');
    expect(decodeSpooledLine(Buffer.alloc(0))).toBe('');
  });

  it("drops the half character that the supervisor's cut at the limit left at the end", () => {
    const cut = Buffer.concat([Buffer.alloc(MAX_LINE_BYTES - 1, 'a'), Buffer.from('é').subarray(0, 1)]);
    expect(decodeSpooledLine(cut)).toBe('a'.repeat(MAX_LINE_BYTES - 1));
  });
});
