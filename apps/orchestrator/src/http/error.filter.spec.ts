import { type ArgumentsHost, BadRequestException, Logger } from '@nestjs/common';
import { ErrorFilter } from './error.filter';

/** What the filter answers, caught on a stand-in for Fastify's reply. */
function answerTo(exception: unknown): { status: number; body: unknown } {
  const answer = { status: 0, body: undefined as unknown };
  const reply = {
    status(code: number) {
      answer.status = code;
      return reply;
    },
    header() {
      return reply;
    },
    send(body: unknown) {
      answer.body = body;
      return reply;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
  new ErrorFilter().catch(exception, host);
  return answer;
}

describe('ErrorFilter', () => {
  // The 500s below are logged as errors, as they should be; not on the test's output.
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

  // refuseDeepBodies refuses from a Fastify hook with a plain Error carrying statusCode 400, which Nest does not
  // turn into an HttpException as it does Fastify's own errors: it used to be answered 500.
  it('answers a hook error that carries a 4xx status with that status, in the contract shape', () => {
    const refused = Object.assign(new Error('body nests deeper than 64 levels'), { statusCode: 400 });

    expect(answerTo(refused)).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'body nests deeper than 64 levels' } },
    });
  });

  it('answers an HttpException below 500 with its status', () => {
    expect(answerTo(new BadRequestException('no'))).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'no' } } });
  });

  it('answers anything else, a 5xx status included, with a bare 500', () => {
    for (const exception of [new Error('boom'), Object.assign(new Error('down'), { statusCode: 503 }), 'a string']) {
      expect(answerTo(exception)).toEqual({ status: 500, body: { error: { code: 'internal_error', message: 'internal error' } } });
    }
  });
});
