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

  // Called directly: on a real socket the answer races the RST that closing a connection with unread request bytes
  // sends, which can swallow it (a client may then see neither the answer nor an error). Scenario 20 of the system
  // suite sends oversized heads to the real services.
  it("answers a request head over Node's limit with a 431 in the contract shape, then closes the connection", () => {
    const written: string[] = [];
    const socket = { destroyed: false, writable: true, write: (text: string) => written.push(text), destroy: jest.fn() };
    const error = Object.assign(new Error('Header overflow'), {
      code: 'HPE_HEADER_OVERFLOW',
      bytesParsed: 0,
      rawPacket: { type: 'Buffer', data: [] },
    }) as ConnectionError;

    contractFrameworkErrors.clientErrorHandler!.call(app, error, socket as unknown as Socket);

    const [head, body] = written.join('').split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expectContractError(431, 'the request head (request line and headers) is too large', { statusCode: 431, body });
    expect(socket.destroy).toHaveBeenCalledWith(error);
  });

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
