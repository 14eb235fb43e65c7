import { type FakeAnthropic, startFakeAnthropic } from './fake-anthropic';
import type { Turn } from './script';

let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(script: Turn[]): Promise<FakeAnthropic> {
  fake = await startFakeAnthropic(script);
  return fake;
}

function post(server: FakeAnthropic, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}/v1/messages?beta=true`, { method: 'POST', body: JSON.stringify(body), signal });
}

/** The `data` of each event of an SSE body, in order. */
function events(body: string): Array<Record<string, unknown>> {
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>);
}

describe('startFakeAnthropic', () => {
  it('streams a text answer with its usage, and records the request', async () => {
    const server = await start([{ type: 'text', text: 'hello there', usage: { input_tokens: 7, output_tokens: 3 } }]);
    const response = await post(server, { model: 'claude-x', stream: true, messages: [] });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const data = events(await response.text());
    expect(data.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(data[0]).toMatchObject({ message: { model: 'claude-x', usage: { input_tokens: 7 } } });
    expect(
      data
        .flatMap((event) => ((event.delta as { text?: string })?.text === undefined ? [] : [(event.delta as { text: string }).text]))
        .join(''),
    ).toBe('hello there');
    expect(data[5]).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3 },
    });
    expect(server.requests).toEqual([
      expect.objectContaining({ method: 'POST', path: '/v1/messages', body: { model: 'claude-x', stream: true, messages: [] } }),
    ]);
  });

  it('streams a tool use as input JSON deltas, after its text', async () => {
    const server = await start([{ type: 'tool_use', name: 'Write', text: 'Writing.', input: { file_path: 'a.ts', content: 'x' } }]);
    const data = events(await (await post(server, { stream: true })).text());
    expect(data[5]).toMatchObject({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', name: 'Write', input: {} } });
    const json = data
      .filter((event) => (event.delta as { type?: string })?.type === 'input_json_delta')
      .map((event) => (event.delta as { partial_json: string }).partial_json)
      .join('');
    expect(JSON.parse(json)).toEqual({ file_path: 'a.ts', content: 'x' });
    expect(data.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } });
  });

  it('answers an error turn with its status and error body, then "done" once the script ran out', async () => {
    const server = await start([{ type: 'error', status: 529, errorType: 'overloaded_error', message: 'Overloaded' }]);
    const failed = await post(server, { stream: true });
    expect(failed.status).toBe(529);
    expect(await failed.json()).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const final = await post(server, { stream: false });
    expect(await final.json()).toMatchObject({ content: [{ type: 'text', text: 'done' }], stop_reason: 'end_turn' });
  });

  it('cuts a stream off after the given number of events', async () => {
    const server = await start([{ type: 'text', text: 'never finished', cutAfterEvents: 2 }]);
    const response = await post(server, { stream: true });
    const reader = response.body!.getReader();
    const chunks: string[] = [];
    await expect(
      (async () => {
        for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(Buffer.from(read.value).toString());
      })(),
    ).rejects.toThrow();
    expect(events(chunks.join('')).map((event) => event.type)).toEqual(['message_start', 'content_block_start']);
  });

  it('waits between the events of a slow stream', async () => {
    const server = await start([{ type: 'text', text: 'slow', delayMs: 50 }]);
    const started = Date.now();
    await (await post(server, { stream: true })).text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(6 * 50 - 10);
  });

  it('never answers a silent turn, and still closes', async () => {
    const server = await start([{ type: 'silence' }]);
    const answer = post(server, { stream: true }, AbortSignal.timeout(300));
    await expect(answer).rejects.toThrow();
    expect(server.requests).toHaveLength(1);
  });

  it('answers HEAD / with 200', async () => {
    const server = await start([]);
    expect((await fetch(server.url, { method: 'HEAD' })).status).toBe(200);
  });
});
