export { AppError } from './app-error';
export { bearerToken, hashSecret, secretsEqual } from './bearer-token';
export {
  ConfigurationError,
  envBearerSecret,
  envBoolean,
  envInteger,
  envPositiveNumber,
  envText,
  envUrl,
  readEnvironment,
  type Environment,
} from './environment';
export { MAX_BODY_DEPTH, refuseDeepBodies } from './deep-body';
export { contractFrameworkErrors, fastifyErrorStatus } from './framework-errors';
export { drainUnreadBodies } from './unread-body';
export { MIN_PRODUCTION_SECRET_LENGTH, refuseDevelopmentSecrets } from './production-secrets';
export { parseRetryAfter } from './retry-after';
export { CONNECTIONS_CHECKING_INTERVAL_MS, requestTimeouts } from './request-timeouts';
export { retryBackoff } from './retry-backoff';
export { SUPPORTED_NODE_RANGE, unsupportedNodeMessage } from './supported-node';
