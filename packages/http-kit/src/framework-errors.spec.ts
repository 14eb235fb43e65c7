import type { Socket } from 'node:net';
import Fastify, { type ConnectionError } from 'fastify';
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
      expectContractError(
        400,
        'the URL is not valid: a percent-encoded part of it is no UTF-8',
        await app.inject({ method: 'GET', url: `/items/${id}` }),
      );
    }
  });

  it('answers a path segment past the router limit with a 414 in the contract shape', async () => {
    expectContractError(
      414,
      'a segment of the URL path is longer than 100 characters',
      await app.inject({ method: 'GET', url: `/items/${'a'.repeat(101)}` }),
    );
    expect((await app.inject({ method: 'GET', url: `/items/${'a'.repeat(100)}` })).statusCode).toBe(200);
  });

  // A head over Node's limit, on a real socket: unread-body.int-spec.ts.

  it('writes nothing to a connection already gone', () => {
    const socket = { destroyed: true, writable: false, write: jest.fn(), destroy: jest.fn() };

    contractFrameworkErrors.clientErrorHandler!.call(
      app,
      Object.assign(new Error('reset'), { code: 'ECONNRESET', bytesParsed: 0, rawPacket: { type: 'Buffer', data: [] } }) as ConnectionError,
      socket as unknown as Socket,
    );

    expect(socket.write).not.toHaveBeenCalled();
  });
});
