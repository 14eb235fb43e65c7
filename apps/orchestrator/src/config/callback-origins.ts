/** This machine, by name or address, as a URL's `hostname` spells it (IPv4 forms such as `127.1` are normalised to `127.0.0.1`). */
const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * The origins a spawn's `callback_url` may have (ALLOWED_CALLBACK_ORIGINS).
 * Every event of a session is POSTed there, so without a limit whoever holds
 * the API key can make the orchestrator send requests to any host it can reach.
 * The default, loopback on any port, is where the API runs when it runs beside
 * the orchestrator; any port, because the API's port is its own configuration.
 * A list replaces the default: each entry is a whole origin, its port included.
 */
export class CallbackOrigins {
  private constructor(private readonly origins: ReadonlySet<string> | undefined) {}

  static loopback(): CallbackOrigins {
    return new CallbackOrigins(undefined);
  }

  /** `origins` as `parseOrigin` returns them. */
  static only(origins: readonly string[]): CallbackOrigins {
    return new CallbackOrigins(new Set(origins));
  }

  allows(callbackUrl: string): boolean {
    let url: URL;
    try {
      url = new URL(callbackUrl);
    } catch {
      return false;
    }
    if (this.origins !== undefined) return this.origins.has(url.origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTNAMES.has(url.hostname);
  }

  describe(): string {
    return this.origins === undefined ? 'loopback origins only' : [...this.origins].join(', ');
  }
}

/** The origin `text` names (`https://api.example:8443`, a trailing `/` allowed), or undefined when it names anything more or else. */
export function parseOrigin(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  return bare && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : undefined;
}
