import { z } from 'zod';
import { isBearerToken } from './bearer-token';

/** A process environment, or any set of variables read like one. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A wrong value in the environment: start-up stops with its message, which names every bad variable. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

// Each helper reads the variable's text as it is: an unset variable is
// missing (`.optional()`, `.default()`), while '', '0' and 'false' are values,
// right or wrong, never "missing". `PORT=` silently meaning 3000 would hide a
// broken deployment script.

/** Text with something in it besides white space. */
export function envText() {
  return z.string().refine((value) => value.trim() !== '', 'must not be empty');
}

/** A whole number in decimal digits (no sign), within `min`..`max`; `what` names it in the message for anything else. */
export function envInteger(what: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .regex(/^\d+$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** `true` or `false` (also `1` or `0`, any case). */
export function envBoolean() {
  return z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(['true', 'false', '1', '0'], 'expected true or false'))
    .transform((value) => value === 'true' || value === '1');
}

/** A URL with one of `protocols` (without the colon, e.g. `['http', 'https']`). */
export function envUrl(protocols: readonly string[]) {
  return z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`), error: `expected a URL (${protocols.join(', ')})` });
}

/** A secret sent as `Authorization: Bearer <secret>`: one a Bearer header cannot carry would be refused on every request. */
export function envBearerSecret() {
  return envText().pipe(z.string().refine(isBearerToken, 'must be a bearer token: letters, digits and - . _ ~ + /, optionally ending in ='));
}

interface ReadEnvironmentOptions {
  /** Variables whose value a message must not show. */
  secrets?: readonly string[];
}

/**
 * The environment's variables parsed by `schema`, or a `ConfigurationError`
 * naming every bad variable with its value (a secret's value shown as `[secret]`).
 */
export function readEnvironment<S extends z.ZodType>(schema: S, environment: Environment, options: ReadEnvironmentOptions = {}): z.output<S> {
  const result = schema.safeParse(environment);
  if (result.success) return result.data;
  const secrets = new Set(options.secrets);
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const value = secrets.has(name) ? '[secret]' : JSON.stringify(environment[name]);
    return `${name}=${value}: ${issue.message}`;
  });
  throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}`);
}
