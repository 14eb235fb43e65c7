import { LineSplitter, parseAgentLine } from './agent-output';

describe('parseAgentLine', () => {
  it('turns stdout progress and result objects into messages of that type', () => {
    expect(parseAgentLine('stdout', '{"type":"progress","message":"half","percent":50}')).toEqual({ type: 'progress', data: { message: 'half', percent: 50 } });
    expect(parseAgentLine('stdout', '{"type":"result","summary":"done","exit_code":0}')).toEqual({ type: 'result', data: { summary: 'done', exit_code: 0 } });
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
    expect(line).toHaveLength(16 * 1024);
    expect(line.endsWith('[truncated]')).toBe(true);
  });
});

describe('LineSplitter', () => {
  function split(chunks: (string | Buffer)[], maxBytes?: number): string[] {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), maxBytes);
    for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    splitter.end();
    return lines;
  }

  it('joins lines split across chunks, strips CR, and emits a last line without newline', () => {
    expect(split(['a', 'b\r\nc\n\nd'])).toEqual(['ab', 'c', '', 'd']);
  });

  it('does not break a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('é\n');
    expect(split([bytes.subarray(0, 1), bytes.subarray(1)])).toEqual(['é']);
  });

  it('cuts an over-long line and discards the rest of it', () => {
    expect(split(['abcdefgh', 'ijk', 'lm\nnext\n'], 4)).toEqual(['abcd', 'next']);
  });
});
