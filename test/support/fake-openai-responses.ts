import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One model answer: a shell command for the agent to run (codex's `exec_command` tool), or its final text. */
export type FakeAnswer = { command: string } | { text: string };

export interface FakeUsage {
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
}

export interface FakeResponsesServer {
  /** The base URL a model provider names: `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string;
  /** The parsed bodies of the `POST /v1/responses` requests, in order. */
  readonly requests: unknown[];
  close(): Promise<void>;
}

/**
 * Just enough of OpenAI's streaming Responses API for the real `codex exec` to
 * run offline: each `POST /v1/responses` gets the next answer as server-sent
 * events, the last one repeated; anything else is a 404.
 */
export async function startFakeResponsesServer(answers: readonly FakeAnswer[], usage: FakeUsage): Promise<FakeResponsesServer> {
  const requests: unknown[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || !request.url?.startsWith('/v1/responses')) {
        response.writeHead(404).end();
        return;
      }
      requests.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      const index = requests.length;
      const answer = answers[Math.min(index, answers.length) - 1];
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const event of answerEvents(`resp_${index}`, answer, usage)) {
        response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
      response.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answerEvents(id: string, answer: FakeAnswer, usage: FakeUsage): Record<string, unknown>[] {
  const item =
    'command' in answer
      ? {
          type: 'function_call',
          id: `fc_${id}`,
          call_id: `call_${id}`,
          name: 'exec_command',
          arguments: JSON.stringify({ cmd: answer.command }),
        }
      : {
          type: 'message',
          id: `msg_${id}`,
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: answer.text, annotations: [] }],
        };
  return [
    { type: 'response.created', response: { id } },
    { type: 'response.output_item.done', output_index: 0, item },
    {
      type: 'response.completed',
      response: {
        id,
        usage: {
          input_tokens: usage.input_tokens,
          input_tokens_details: { cached_tokens: usage.cached_tokens },
          output_tokens: usage.output_tokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: usage.input_tokens + usage.output_tokens,
        },
      },
    },
  ];
}
