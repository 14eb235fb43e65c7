export * from './app-error';
export * from './bearer-token';
export * from './environment';
export * from './retry-after';
export * from './retry-backoff';
