/** The callback endpoint's route as Fastify names it (contract section 3), for the hooks that treat it apart. */
export const CALLBACK_ROUTE = '/orchestrator/callbacks/:sessionId';
