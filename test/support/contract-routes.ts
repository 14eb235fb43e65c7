/**
 * Every operation of docs/contract.md §2 and §4, with every status it can
 * answer, transcribed from the contract: the statuses it names, 401 wherever it
 * requires a token, 404 for an unknown `:id`, 400 for input it validates, and on
 * the API the 502/503/504 its error mapping gives orchestrator failures on the
 * operations that call the orchestrator while the caller waits (docs/operations.md, "What each failure does").
 * The services' OpenAPI documents must list exactly these.
 */
export type RouteStatuses = Readonly<Record<string, readonly number[]>>;

/** Section 2: the Orchestrator Gateway API. */
export const ORCHESTRATOR_ROUTES: RouteStatuses = {
  'POST /orchestrator/sessions/spawn': [200, 201, 400, 401, 413, 422, 503],
  'GET /orchestrator/sessions/:id/status': [200, 401, 404],
  // 503: the node that runs the session cannot be reached (node_unreachable); the caller retries.
  'POST /orchestrator/sessions/:id/kill': [200, 401, 404, 503],
  'POST /orchestrator/sessions/:id/cancel': [200, 400, 401, 404, 503],
  // 400: a query outside the contract's ranges, or a cursor the orchestrator did not issue (README).
  'GET /orchestrator/sessions': [200, 400, 401],
  'GET /health': [200],
};

/** Section 4: the Mosaic API, with the callback endpoint of section 3. */
export const API_ROUTES: RouteStatuses = {
  // 403 wherever an operator key may lack the scope (or, for /operator-keys, is not the administrator).
  'POST /tasks': [201, 400, 401, 403],
  'GET /tasks/:id': [200, 401, 403, 404],
  // 422: a task too large for the orchestrator's spawn limit.
  'POST /tasks/:id/dispatch': [202, 400, 401, 403, 404, 409, 422, 429, 502, 503, 504],
  'GET /usage/today': [200, 401, 403],
  // The administrator's reset of the day's counter (docs/operations.md, "Budgets").
  'POST /usage/today/reset': [200, 401, 403],
  'GET /orchestrator/sessions': [200, 400, 401, 403],
  'GET /orchestrator/sessions/:id': [200, 400, 401, 403, 404, 502, 503, 504],
  'GET /orchestrator/sessions/:id/events': [200, 400, 401, 403, 404],
  // 429 too_many_streams / 503 at_capacity: a stream past a key's or an address's cap / the process's (issue 38; a
  // proposed contract change, like 409 for a key name in use below).
  'GET /orchestrator/sessions/:id/events/stream': [200, 400, 401, 403, 404, 429, 503],
  'GET /orchestrator/events/stream': [200, 401, 403, 429, 503],
  'POST /orchestrator/sessions/:id/kill': [200, 401, 403, 404, 502, 503, 504],
  'POST /orchestrator/sessions/:id/cancel': [200, 400, 401, 403, 404, 502, 503, 504],
  // (v3, 7.2) `:path` is the artifact's name, which may have several segments (`out/…`): a wildcard, named so by the document.
  'GET /orchestrator/sessions/:id/artifacts': [200, 401, 403, 404],
  'GET /orchestrator/sessions/:id/artifacts/:path': [200, 400, 401, 403, 404],
  'POST /operator-keys': [201, 400, 401, 403, 409],
  'GET /operator-keys': [200, 401, 403],
  'DELETE /operator-keys/:id': [200, 401, 403, 404],
  'POST /orchestrator/callbacks/:sessionId': [202, 400, 401, 413, 503],
  'GET /health': [200, 503],
  'GET /health/orchestrator': [200, 503],
};

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** The operations of an OpenAPI document in the table's form: `METHOD /path/:param` → sorted statuses. */
export function documentedRoutes(document: OpenApiDocument): Record<string, number[]> {
  const routes: Record<string, number[]> = {};
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const key = `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`;
      routes[key] = Object.keys(operation.responses ?? {})
        .map(Number)
        .sort((a, b) => a - b);
    }
  }
  return routes;
}

/** The table with its statuses sorted, to compare with `documentedRoutes`. */
export function sortedRoutes(routes: RouteStatuses): Record<string, number[]> {
  return Object.fromEntries(Object.entries(routes).map(([route, statuses]) => [route, [...statuses].sort((a, b) => a - b)]));
}
