import { RequestTracing } from '@mosaic/observability';

/** The orchestrator's request ids and trace context (spans under the tracer `mosaic-orchestrator`). */
export const requestTracing = new RequestTracing('mosaic-orchestrator');
