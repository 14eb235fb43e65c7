export * from './statuses';
export * from './json';
export * from './priorities';
export * from './errors';
export * from './validation';
export * from './gateway';
export * from './callbacks';
export * from './openapi';
