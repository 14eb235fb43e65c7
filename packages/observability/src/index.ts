export { LOG_LEVELS, loggerParams, type LogLevel } from './logging';
export { logRequests } from './request-log';
export { requestIdFor, requestTracing, type Origin } from './request-tracing';
export { parseTraceparent } from './trace-context';
