import { RequestTracing } from '@mosaic/observability';

/** The API's request ids and trace context (spans under the tracer `mosaic-api`). */
export const requestTracing = new RequestTracing('mosaic-api');
