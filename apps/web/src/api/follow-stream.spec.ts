import { ApiClient, ApiError } from './client';
import type { SseMessage } from './event-stream';
import { followEventStream, retryDelayMs } from './follow-stream';

function streamAnswer(text: string): Response {
  return new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

describe('followEventStream', () => {
  const realFetch = global.fetch;
  afterEach(() => {
    global.fetch = realFetch;
  });

  it('backs off 1 s, 2 s, 4 s, 8 s, then 10 s', () => {
    expect([1, 2, 3, 4, 5, 9].map(retryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it('resumes a dropped stream from the last event it saw, with the token, and stops once finished', async () => {
    const requests: Headers[] = [];
    const answers = [streamAnswer('id: 1\nevent: log\ndata: a\n\n'), streamAnswer('id: 2\nevent: status\ndata: b\n\n')];
    global.fetch = jest.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      requests.push(new Headers(init?.headers));
      return answers.shift()!;
    });
    const received: SseMessage[] = [];
    const opens: boolean[] = [];
    let last: string | undefined;

    await followEventStream({
      client: new ApiClient('the-token'),
      path: '/stream',
      signal: new AbortController().signal,
      lastEventId: () => last,
      onOpen: (reconnected) => opens.push(reconnected),
      onMessage: (message) => {
        received.push(message);
        last = message.id;
      },
      finished: () => last === '2',
    });

    expect(received.map((message) => message.data)).toEqual(['a', 'b']);
    expect(opens).toEqual([false, true]);
    expect(requests.map((headers) => [headers.get('authorization'), headers.get('accept'), headers.get('last-event-id')])).toEqual([
      ['Bearer the-token', 'text/event-stream', null],
      ['Bearer the-token', 'text/event-stream', '1'],
    ]);
  });

  it('gives up on a refusal, with the API’s message, and tells the client of a 401', async () => {
    global.fetch = jest.fn(
      async () =>
        new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'a valid operator token is required' } }), { status: 401 }),
    );
    const refused: ApiError[] = [];

    const following = followEventStream({
      client: new ApiClient('bad', (error) => refused.push(error)),
      path: '/stream',
      signal: new AbortController().signal,
      onMessage: () => {},
    });

    await expect(following).rejects.toEqual(new ApiError(401, 'unauthorized', 'a valid operator token is required'));
    expect(refused.map((error) => error.code)).toEqual(['unauthorized']);
  });

  it('waits out a 429 (too many streams) for its Retry-After, then follows again', async () => {
    jest.useFakeTimers();
    try {
      const answers = [
        new Response(JSON.stringify({ error: { code: 'too_many_streams', message: 'this key has 100 streams open' } }), {
          status: 429,
          headers: { 'retry-after': '5' },
        }),
        streamAnswer('id: 1\nevent: status\ndata: done\n\n'),
      ];
      const asked: number[] = [];
      global.fetch = jest.fn(async () => {
        asked.push(Date.now());
        return answers.shift()!;
      });
      const received: string[] = [];

      const following = followEventStream({
        client: new ApiClient('the-token'),
        path: '/stream',
        signal: new AbortController().signal,
        onMessage: (message) => received.push(message.data),
        finished: () => true,
      });
      await jest.advanceTimersByTimeAsync(4_999);
      expect(asked).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      await following;

      expect(asked).toHaveLength(2);
      expect(asked[1]! - asked[0]!).toBe(5_000);
      expect(received).toEqual(['done']);
    } finally {
      jest.useRealTimers();
    }
  });
});
