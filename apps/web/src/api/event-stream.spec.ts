import { readEventStream, SseParser, type SseMessage } from './event-stream';

/** Feeds `text` to a fresh parser in the given pieces and collects what it dispatched. */
function parse(...chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

const STREAM = ': heartbeat\n\nid: 1\nevent: status\ndata: {"sequence":1}\n\nid: 2\nevent: log\ndata: first line\ndata: second line\n\n';
const MESSAGES: SseMessage[] = [
  { id: '1', event: 'status', data: '{"sequence":1}' },
  { id: '2', event: 'log', data: 'first line\nsecond line' },
];

describe('SseParser', () => {
  it('reads id, event and data fields, joining multi-line data with LF, and ignores comments', () => {
    expect(parse(STREAM)).toEqual(MESSAGES);
  });

  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('takes %s line ends as LF ones', (_, end) => {
    expect(parse(STREAM.replace(/\n/g, end))).toEqual(MESSAGES);
  });

  it.each(['\n', '\r\n', '\r'])('gives the same messages whatever the chunk boundaries (line end %j)', (end) => {
    const text = STREAM.replace(/\n/g, end);
    for (let cut = 0; cut <= text.length; cut += 1) {
      expect(parse(text.slice(0, cut), text.slice(cut))).toEqual(MESSAGES);
    }
    expect(parse(...text.split(''))).toEqual(MESSAGES);
  });

  it('dispatches nothing for a message without data, and nothing before its blank line', () => {
    expect(parse('event: session\n\n')).toEqual([]);
    expect(parse('event: session\ndata: x\n')).toEqual([]);
  });

  it('strips one space after the colon only, and names an unnamed event "message"', () => {
    expect(parse('data:  two spaces\n\ndata:none\n\n')).toEqual([
      { id: undefined, event: 'message', data: ' two spaces' },
      { id: undefined, event: 'message', data: 'none' },
    ]);
  });

  it('keeps the last id for the messages after it, and the event name for one message only', () => {
    expect(parse('id: 7\nevent: progress\ndata: a\n\ndata: b\n\n')).toEqual([
      { id: '7', event: 'progress', data: 'a' },
      { id: '7', event: 'message', data: 'b' },
    ]);
  });

  it('ignores unknown fields, retry, and a field line without a colon', () => {
    expect(parse('retry: 5000\nfoo: bar\ndata\n\n')).toEqual([{ id: undefined, event: 'message', data: '' }]);
  });
});

describe('readEventStream', () => {
  function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
    return new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
  }

  it('decodes UTF-8 split across chunks and drops an unfinished message at the end', async () => {
    const bytes = new TextEncoder().encode('event: log\ndata: grüße 🦊\n\ndata: unfinished\n');
    const received: SseMessage[] = [];
    // Cut inside the two-byte ü and inside the four-byte fox.
    const fox = bytes.indexOf(0xf0);
    await readEventStream(bodyOf([bytes.slice(0, 20), bytes.slice(20, fox + 2), bytes.slice(fox + 2)]), (message) =>
      received.push(message),
    );
    expect(received).toEqual([{ id: undefined, event: 'log', data: 'grüße 🦊' }]);
  });
});
