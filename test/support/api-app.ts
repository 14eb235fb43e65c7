import type { OutgoingHttpHeaders } from 'node:http';
import { createHttpApp } from '../../apps/api/src/app/http-app';
import { ApiConfig } from '../../apps/api/src/config/api-config';
import { testDatabaseUrl } from './database';

/** The administrator's token of every app `TestApi.start` boots. */
export const OPERATOR_TOKEN = 'test-operator-token';

/**
 * What an in-process test app runs with unless a test says otherwise: the run's
 * database, an orchestrator nobody listens for, and reconciliation far away,
 * since it has tests of its own and must not touch other tests' sessions.
 */
const TEST_ENVIRONMENT: Readonly<Record<string, string>> = {
  MOSAIC_API_TOKEN: OPERATOR_TOKEN,
  ORCHESTRATOR_URL: 'http://127.0.0.1:9',
  RECONCILE_INTERVAL_MS: String(60 * 60 * 1000),
};

type ApiApp = Awaited<ReturnType<typeof createHttpApp>>;

/** A provider class of the app (the root has no Nest types of its own to name it with). */
export type Provider<T> = abstract new (...args: never[]) => T;

export interface TestRequest {
  /** Sent as JSON; a string is sent as it is (for bodies that are not JSON). */
  readonly body?: unknown;
  /** The bearer token; the administrator's by default, `null` for none. */
  readonly token?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TestAnswer<Body> {
  readonly status: number;
  readonly body: Body;
  readonly headers: OutgoingHttpHeaders;
}

/** The API's real HTTP app, in this process, and a way to send it requests as an operator. */
export class TestApi {
  private constructor(readonly app: ApiApp) {}

  /** Boots the app on `env` over the test environment above (`DATABASE_URL` defaults to the run's database). */
  static async start(env: Readonly<Record<string, string>> = {}, options: { logger?: false } = { logger: false }): Promise<TestApi> {
    const config = ApiConfig.fromEnvironment({ DATABASE_URL: testDatabaseUrl(), ...TEST_ENVIRONMENT, ...env });
    const app = await createHttpApp(config, options);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return new TestApi(app);
  }

  get<T>(type: Provider<T>): T {
    return this.app.get(type);
  }

  /** One request; the answer's body parsed as JSON when it is JSON. */
  async request<Body = unknown>(method: 'GET' | 'POST' | 'DELETE', url: string, request: TestRequest = {}): Promise<TestAnswer<Body>> {
    const token = request.token === undefined ? OPERATOR_TOKEN : request.token;
    const response = await this.app.inject({
      method,
      url,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...request.headers,
      },
      ...(request.body === undefined ? {} : { payload: typeof request.body === 'string' ? request.body : JSON.stringify(request.body) }),
    });
    const json = /^application\/json/.test(String(response.headers['content-type'] ?? ''));
    return { status: response.statusCode, body: (json ? response.json() : response.body) as Body, headers: response.headers };
  }

  /** Listens on a free loopback port, for clients that need a real socket (streams); answers the base URL. */
  async listen(): Promise<string> {
    await this.app.listen(0, '127.0.0.1');
    const address = this.app.getHttpServer().address();
    if (address === null || typeof address === 'string') throw new Error('the API is not listening on a TCP port');
    return `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
