export * from './logging';
export * from './request-tracing';
export * from './request-log';
