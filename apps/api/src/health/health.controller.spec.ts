import { Global, Logger, Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiConfig } from '../config/api-config';
import { PrismaService } from '../database/prisma.service';
import { ErrorFilter } from '../http/error.filter';
import { HealthModule } from './health.module';

type StubAnswer = { status: number; body: unknown } | 'hang up';

/** A stand-in orchestrator on loopback, answering GET /health as told. */
async function startOrchestrator(answer: () => StubAnswer): Promise<Server> {
  const server = createServer((request, response) => {
    const next = answer();
    if (request.url !== '/health' || next === 'hang up') {
      request.socket.destroy();
      return;
    }
    response.writeHead(next.status, { 'content-type': 'application/json' }).end(JSON.stringify(next.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function startApi(orchestratorUrl: string, database: { $queryRaw: jest.Mock }): Promise<NestFastifyApplication> {
  @Global()
  @Module({
    providers: [
      { provide: ApiConfig, useValue: ApiConfig.fromEnvironment({ ORCHESTRATOR_URL: orchestratorUrl }) },
      { provide: PrismaService, useValue: database },
    ],
    exports: [ApiConfig, PrismaService],
  })
  class TestGlobalsModule {}

  const moduleRef = await Test.createTestingModule({ imports: [TestGlobalsModule, HealthModule] }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
  app.useGlobalFilters(new ErrorFilter(app.getHttpAdapter()));
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

const HEALTHY = { status: 200, body: { status: 'ok', version: '2.0.0', active_sessions: 1 } };

describe('HealthController', () => {
  let orchestratorAnswer: StubAnswer;
  let orchestrator: Server;
  let database: { $queryRaw: jest.Mock };
  let app: NestFastifyApplication;

  beforeAll(async () => {
    orchestrator = await startOrchestrator(() => orchestratorAnswer);
  });

  afterAll(async () => {
    await new Promise((resolve) => orchestrator.close(resolve));
  });

  beforeEach(async () => {
    for (const level of ['log', 'warn', 'error'] as const) jest.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
    orchestratorAnswer = HEALTHY;
    database = { $queryRaw: jest.fn().mockResolvedValue([{ '?column?': 1 }]) };
    const { port } = orchestrator.address() as AddressInfo;
    app = await startApi(`http://127.0.0.1:${port}`, database);
  });

  afterEach(async () => {
    await app.close();
    jest.restoreAllMocks();
  });

  it('answers GET /health/orchestrator with 200 and the terminus report when up', async () => {
    const response = await app.inject({ method: 'GET', url: '/health/orchestrator' });

    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
    const up = { status: 'up', latency_ms: expect.any(Number), active_sessions: 1, version: '2.0.0', circuit: 'closed' };
    expect(response.json()).toEqual({ status: 'ok', info: { orchestrator: up }, error: {}, details: { orchestrator: up } });
  });

  it.each([
    ['the orchestrator answers 500', { status: 500, body: { error: { code: 'internal_error', message: 'boom' } } }, 'rejected'],
    ['the orchestrator answers nonsense', { status: 200, body: { status: 'ok' } }, 'bad_answer'],
    ['the orchestrator hangs up', 'hang up' as const, 'unreachable'],
  ])('answers GET /health/orchestrator with 503 and the terminus report when %s', async (_name, answer, reason) => {
    orchestratorAnswer = answer;

    const response = await app.inject({ method: 'GET', url: '/health/orchestrator' });

    expect(response.statusCode).toBe(503);
    expect(response.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
    const down = { status: 'down', reason, message: expect.any(String), circuit: 'closed' };
    expect(response.json()).toEqual({ status: 'error', info: {}, error: { orchestrator: down }, details: { orchestrator: down } });
  });

  it('answers GET /health with both checks', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, orchestrator: { status: 'up' } },
      error: {},
    });
  });

  it('answers GET /health with 503 when only the database is down, keeping the orchestrator in info', async () => {
    database.$queryRaw.mockRejectedValue(new Error('connection refused'));

    const response = await app.inject({ method: 'GET', url: '/health' });

    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: 'error',
      info: { orchestrator: { status: 'up' } },
      error: { database: { status: 'down', reason: 'unreachable' } },
      details: { database: { status: 'down' }, orchestrator: { status: 'up' } },
    });
  });
});
