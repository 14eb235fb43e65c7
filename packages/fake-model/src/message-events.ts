import { DEFAULT_USAGE, type ReplyTurn } from './script';

/** One server-sent event of a streamed Messages API answer. */
export interface MessageEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/**
 * The events the Messages API streams for one answer: `message_start` (input
 * usage), each content block as start, deltas and stop, then `message_delta`
 * (stop reason and the answer's output tokens) and `message_stop`.
 */
export function messageEvents(turn: ReplyTurn, id: number, model: string): MessageEvent[] {
  const usage = turn.usage ?? DEFAULT_USAGE;
  const message = {
    id: `msg_fake_${id}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { ...usage, output_tokens: 1 },
  };
  const blocks = contentBlocks(turn, id).flatMap((block, index) => blockEvents(block, index));
  return [
    { event: 'message_start', data: { type: 'message_start', message } },
    ...blocks,
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: turn.type === 'tool_use' ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: usage.output_tokens },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

/** The same answer as one JSON body, for a caller that did not ask for a stream. */
export function messageBody(turn: ReplyTurn, id: number, model: string): Record<string, unknown> {
  return {
    id: `msg_fake_${id}`,
    type: 'message',
    role: 'assistant',
    model,
    content: contentBlocks(turn, id),
    stop_reason: turn.type === 'tool_use' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: turn.usage ?? DEFAULT_USAGE,
  };
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Readonly<Record<string, unknown>> };

function contentBlocks(turn: ReplyTurn, id: number): Block[] {
  if (turn.type === 'text') return [{ type: 'text', text: turn.text }];
  const tool: Block = { type: 'tool_use', id: `toolu_fake_${id}`, name: turn.name, input: turn.input };
  return turn.text === undefined ? [tool] : [{ type: 'text', text: turn.text }, tool];
}

function blockEvents(block: Block, index: number): MessageEvent[] {
  const start = block.type === 'text' ? { type: 'text', text: '' } : { type: 'tool_use', id: block.id, name: block.name, input: {} };
  // Two deltas per block, so that a client has to join them as it does for a real answer.
  const deltas = halves(block.type === 'text' ? block.text : JSON.stringify(block.input)).map((part) => ({
    event: 'content_block_delta',
    data: {
      type: 'content_block_delta',
      index,
      delta: block.type === 'text' ? { type: 'text_delta', text: part } : { type: 'input_json_delta', partial_json: part },
    },
  }));
  return [
    { event: 'content_block_start', data: { type: 'content_block_start', index, content_block: start } },
    ...deltas,
    { event: 'content_block_stop', data: { type: 'content_block_stop', index } },
  ];
}

function halves(text: string): string[] {
  const characters = Array.from(text);
  const middle = Math.ceil(characters.length / 2);
  return [characters.slice(0, middle).join(''), characters.slice(middle).join('')];
}

/** One event as the SSE wire format carries it. */
export function sseFrame({ event, data }: MessageEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
