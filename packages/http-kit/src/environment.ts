import { readFileSync } from 'node:fs';
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

/** A positive decimal number, such as an amount of money. */
export function envPositiveNumber(what: string) {
  return z
    .string()
    .regex(/^\d+(\.\d+)?$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().positive('must be more than 0').finite());
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

/**
 * A secret sent as `Authorization: Bearer <secret>`, without the white space
 * around it (a header's is not part of its token): one a Bearer header cannot
 * carry would be refused on every request.
 */
export function envBearerSecret() {
  return z
    .string()
    .trim()
    .pipe(envText())
    .pipe(z.string().refine(isBearerToken, 'must be a bearer token: letters, digits and - . _ ~ + /, optionally ending in ='));
}

interface ReadEnvironmentOptions {
  /** Variables whose value a message must not show. */
  secrets?: readonly string[];
  /**
   * Secrets that may instead be read from the file named by `<NAME>_FILE`, as many
   * container images do: a secret in a file is not in the process's environment,
   * which every process of the same user can read in /proc/<pid>/environ.
   */
  secretFiles?: readonly string[];
}

/**
 * The environment's variables parsed by `schema`, or a `ConfigurationError`
 * naming every bad variable with its value (a secret's value shown as `[secret]`).
 * A secret of `secretFiles` whose `<NAME>_FILE` is set is the file's text without
 * one trailing newline; a file that cannot be read or is empty, or a secret set
 * both ways, is a bad variable too.
 */
export function readEnvironment<S extends z.ZodType>(
  schema: S,
  environment: Environment,
  options: ReadEnvironmentOptions = {},
): z.output<S> {
  const problems: string[] = [];
  const variables: Record<string, string | undefined> = { ...environment };
  const fromFile = new Set<string>();
  for (const name of options.secretFiles ?? []) {
    const fileVariable = `${name}_FILE`;
    const file = environment[fileVariable];
    if (file === undefined) continue;
    if (environment[name] !== undefined) {
      problems.push(`${name} and ${fileVariable} are both set: set one of them`);
      continue;
    }
    const read = readSecretFile(file);
    if ('problem' in read) problems.push(`${fileVariable}=${JSON.stringify(file)}: ${read.problem}`);
    else {
      variables[name] = read.secret;
      fromFile.add(name);
    }
  }
  const result = schema.safeParse(variables);
  const secrets = new Set([...(options.secrets ?? []), ...(options.secretFiles ?? [])]);
  for (const issue of result.error?.issues ?? []) {
    const name = String(issue.path[0]);
    const value = secrets.has(name) ? '[secret]' : JSON.stringify(environment[name]);
    problems.push(`${fromFile.has(name) ? `${name} (from ${name}_FILE)` : name}=${value}: ${issue.message}`);
  }
  if (!result.success || problems.length > 0) throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}`);
  return result.data;
}

function readSecretFile(file: string): { secret: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problem: `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  // Files written by `echo` or an editor end in a newline that is not part of the secret.
  const secret = text.replace(/\r?\n$/, '');
  return secret === '' ? { problem: 'the file is empty' } : { secret };
}
