import type { DailyUsage } from '@mosaic/orchestrator-contract';
import type { ApiError } from '../api/client';
import { describeSpend } from './daily-usage';
import type { Health } from './orchestrator-health';

interface Props {
  readonly health: Health;
  readonly daily: DailyUsage | undefined;
  /** The last dispatch refused (503: no room or no orchestrator; 429: the day's budget), until dismissed. */
  readonly refusal: ApiError | null;
  readonly onDismissRefusal: () => void;
}

/** What keeps work from running right now: the orchestrator down, its circuit open, a dispatch refused. */
export function Banner({ health, daily, refusal, onDismissRefusal }: Props) {
  const budgetSpent = daily !== undefined && daily.daily_cost_limit_usd !== null && daily.cost_usd >= daily.daily_cost_limit_usd;
  return (
    <div className="banners" role="status" aria-live="polite">
      {budgetSpent && (
        <p className="banner banner-down">
          <strong>Daily budget spent:</strong> {describeSpend(daily)}. New dispatches are refused until tomorrow (UTC); running sessions go
          on.
        </p>
      )}
      {health.state === 'down' && (
        <p className="banner banner-down">
          {health.circuitOpen ? (
            <>
              <strong>Circuit open:</strong> the API stopped calling the orchestrator after repeated failures ({health.message}). New
              dispatches fail until it recovers.
            </>
          ) : (
            <>
              <strong>Orchestrator down:</strong> {health.message}. New dispatches fail until it is back.
            </>
          )}
        </p>
      )}
      {health.state === 'api-unreachable' && (
        <p className="banner banner-down">
          <strong>API unreachable:</strong> the page cannot reach the Mosaic API.
        </p>
      )}
      {refusal !== null && (
        <p className="banner banner-refused">
          <strong>{refusalTitle(refusal.code)}</strong> {refusal.message}{' '}
          <button type="button" className="link" onClick={onDismissRefusal}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}

function refusalTitle(code: string): string {
  switch (code) {
    case 'queue_full':
      return "Queue full: the orchestrator's queue refused the dispatch.";
    case 'orchestrator_unreachable':
      return 'Orchestrator unreachable: the dispatch could not be sent.';
    case 'orchestrator_circuit_open':
      return 'Circuit open: the dispatch was not sent.';
    case 'daily_budget_exhausted':
      return 'Daily budget spent:';
    default:
      return 'Dispatch refused:';
  }
}
