export * from './statuses';
export * from './errors';
export * from './validation';
export * from './gateway';
export * from './callbacks';
export * from './openapi';
