import type { ServerResponse } from 'node:http';

/** Aborts when the client goes away before its answer is sent: whatever it waits for is no longer worth doing. */
export function callerGone(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort(new Error('the caller closed the connection before its answer'));
  });
  return controller.signal;
}
