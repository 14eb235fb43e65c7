export * from './logging';
export * from './request-tracing';
