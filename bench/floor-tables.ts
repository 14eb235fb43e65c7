/** The stricter floors' tables: a copy of what the API writes, with only a primary key (created by each benchmark). */
export const CALLBACK_FLOOR_TABLE = 'bench_floor_events';
export const DISPATCH_FLOOR_TABLE = 'bench_floor_sessions';
