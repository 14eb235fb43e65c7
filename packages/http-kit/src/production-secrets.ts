import { ConfigurationError, type Environment } from './environment';

/** Shortest secret a production service accepts: 32 characters, as many bits as a token needs and then some. */
export const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** Fewest distinct characters a production secret has: `aaaa…` or a repeated word is long but no secret. */
export const MIN_PRODUCTION_SECRET_DISTINCT_CHARACTERS = 10;

export interface SecretSetting {
  readonly name: string;
  /** As configured; undefined when unset. */
  readonly value: string | undefined;
  /** The value a service falls back to outside production, printed in the README: no secret at all. */
  readonly developmentValue: string;
}

/**
 * With NODE_ENV=production, a service whose secret is unset, equal to its
 * development value, shorter than MIN_PRODUCTION_SECRET_LENGTH or of fewer
 * than MIN_PRODUCTION_SECRET_DISTINCT_CHARACTERS distinct characters refuses to
 * start: one line naming each variable and why (never the value). Outside
 * production the development values stay, with the warning at start-up.
 */
export function refuseDevelopmentSecrets(environment: Environment, secrets: readonly SecretSetting[]): void {
  if (environment.NODE_ENV !== 'production') return;
  const problems = secrets.flatMap(({ name, value, developmentValue }) => {
    if (value === undefined) return [`${name} is not set`];
    if (value === developmentValue) return [`${name} is the development value printed in the README`];
    if (value.length < MIN_PRODUCTION_SECRET_LENGTH) return [`${name} is shorter than ${MIN_PRODUCTION_SECRET_LENGTH} characters`];
    if (new Set(value).size < MIN_PRODUCTION_SECRET_DISTINCT_CHARACTERS) {
      return [`${name} has fewer than ${MIN_PRODUCTION_SECRET_DISTINCT_CHARACTERS} distinct characters`];
    }
    return [];
  });
  if (problems.length > 0) {
    throw new ConfigurationError(
      `Refusing to start with NODE_ENV=production: ${problems.join('; ')}. Set a random secret of at least ${MIN_PRODUCTION_SECRET_LENGTH} characters.`,
    );
  }
}
