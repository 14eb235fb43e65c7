import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { errorBodySchema } from '@mosaic/orchestrator-contract';
import { contractFrameworkErrors } from './framework-errors';

describe('contractFrameworkErrors', () => {
  const app = Fastify({ ...contractFrameworkErrors });
  app.get('/items/:id', async (incoming) => ({ id: (incoming.params as { id: string }).id }));

  afterAll(() => app.close());

  const expectContractError = (status: number, body: string, actual: { statusCode: number; body: string }) => {
    expect(actual.statusCode).toBe(status);
    expect(errorBodySchema.parse(JSON.parse(actual.body))).toEqual({ error: { code: 'bad_request', message: body } });
  };

  it('answers a path whose percent-encoding is no UTF-8 with a 400 in the contract shape', async () => {
    for (const id of ['%E0%A4%A', '%ED%A0%80', '%FF']) {
      expectContractError(400, 'the URL is not valid: a percent-encoded part of it is no UTF-8', await app.inject({ method: 'GET', url: `/items/${id}` }));
    }
  });

  it('answers a path segment past the router limit with a 414 in the contract shape', async () => {
    expectContractError(414, 'a segment of the URL path is longer than 100 characters', await app.inject({ method: 'GET', url: `/items/${'a'.repeat(101)}` }));
    expect((await app.inject({ method: 'GET', url: `/items/${'a'.repeat(100)}` })).statusCode).toBe(200);
  });

  // A real server and socket: on a busy machine, allowed more than the default 5 s.
  it('answers a request head over Node\'s limit with a 431 in the contract shape, on a real socket', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const answer = await new Promise<{ statusCode: number; body: string }>((resolve, reject) => {
      const sent = request({ host: '127.0.0.1', port, path: `/items/1?padding=${'x'.repeat(20_000)}`, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body }));
      });
      sent.on('error', reject);
      sent.end();
    });
    expectContractError(431, 'the request head (request line and headers) is too large', answer);
  }, 20_000);
});
