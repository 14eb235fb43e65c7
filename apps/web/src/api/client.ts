/** A failed API call, with the API's own error code and message (`{ "error": { "code", "message" } }`). */
export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when no answer came (network failure). */
    readonly status: number,
    readonly code: string,
    message: string,
    /** What `Retry-After` asked to wait, in ms, when the answer said (whole seconds only). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Method = 'GET' | 'POST';

/**
 * Every call of the page goes through here, so that each one carries the
 * operator's token and every failure arrives as an ApiError with a message
 * fit to show.
 */
export class ApiClient {
  constructor(
    private readonly token: string,
    /** Told of a 401 on any call: the token was revoked or is wrong, and signing in again is the way out. */
    private readonly onUnauthorized: (error: ApiError) => void = () => {},
  ) {}

  /** The headers of an authenticated request; the event streams use them too. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>('POST', path, body, signal);
  }

  async request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.send(path, {
      method,
      headers: this.headers({ accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    return (await response.json()) as T;
  }

  /** A raw content (an artifact) as it came, with its media type: the token goes in the header, never in a URL. */
  async blob(path: string, signal?: AbortSignal): Promise<Blob> {
    const response = await this.send(path, { method: 'GET', headers: this.headers(), signal });
    return response.blob();
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(path, { ...init, cache: 'no-store' });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ApiError(0, 'network_error', 'the API could not be reached');
    }
    if (!response.ok) throw await this.failureOf(response);
    return response;
  }

  /** The error of a failed answer; a 401 is told to onUnauthorized on the way. */
  async failureOf(response: Response): Promise<ApiError> {
    const error = await errorOf(response);
    if (error.status === 401) this.onUnauthorized(error);
    return error;
  }

  /** The raw answer, whatever its status: for endpoints whose failure body is itself the information (health). */
  async fetchRaw(path: string, signal?: AbortSignal): Promise<Response> {
    return fetch(path, { headers: this.headers({ accept: 'application/json' }), signal, cache: 'no-store' });
  }
}

/** The API's error from a failed answer; a body in another shape (a proxy's page) still gives a readable message. */
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  const retryAfter = /^\d{1,6}$/.exec(response.headers.get('retry-after')?.trim() ?? '');
  const retryAfterMs = retryAfter === null ? undefined : Number(retryAfter[0]) * 1000;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = body.error?.code;
    const message = body.error?.message;
    if (typeof code === 'string' && typeof message === 'string') return new ApiError(response.status, code, message, retryAfterMs);
  } catch {
    // Not JSON: described below by its status.
  }
  return new ApiError(response.status, 'http_error', `the API answered ${response.status} ${response.statusText}`.trim(), retryAfterMs);
}

/** A message for any failure, as caught. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
