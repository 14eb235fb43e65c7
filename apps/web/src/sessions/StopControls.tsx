import { useState } from 'react';
import type { Session } from '@mosaic/orchestrator-contract';
import { type ApiClient, messageOf } from '../api/client';
import { ConfirmDialog } from '../ui/ConfirmDialog';

type Action = 'cancel' | 'kill';

const ACTIONS: Record<Action, { label: string; confirm: string; busy: string; explanation: string }> = {
  cancel: {
    label: 'Cancel…',
    confirm: 'Cancel session',
    busy: 'Cancelling…',
    explanation:
      'The agent is asked to stop (SIGTERM) and given its grace period; whatever is still running after it is killed. The session ends cancelled.',
  },
  kill: {
    label: 'Kill…',
    confirm: 'Kill session',
    busy: 'Killing…',
    explanation: 'The agent and everything it started are killed at once (SIGKILL), without a chance to clean up. The session ends killed.',
  },
};

interface Props {
  readonly client: ApiClient;
  readonly session: Session;
  /** The session as the API answered the cancel or kill, its status now terminal. */
  readonly onStopped: (session: Session) => void;
}

/** Cancel and Kill, each behind a confirmation. */
export function StopControls({ client, session, onStopped }: Props) {
  const [asking, setAsking] = useState<Action | null>(null);
  const [running, setRunning] = useState<Action | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function stop(action: Action) {
    setAsking(null);
    setRunning(action);
    setError(null);
    try {
      const path = `/orchestrator/sessions/${encodeURIComponent(session.id)}/${action}`;
      onStopped(await client.post<Session>(path, action === 'cancel' ? {} : undefined));
    } catch (failure) {
      setError(`${action === 'cancel' ? 'Cancel' : 'Kill'} failed: ${messageOf(failure)}`);
    } finally {
      setRunning(null);
    }
  }

  return (
    <div className="stop-controls">
      {(['cancel', 'kill'] as const).map((action) => (
        <button key={action} type="button" className="danger" disabled={running !== null} onClick={() => setAsking(action)}>
          {running === action ? ACTIONS[action].busy : ACTIONS[action].label}
        </button>
      ))}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <ConfirmDialog
        open={asking !== null}
        title={asking === 'kill' ? 'Kill this session?' : 'Cancel this session?'}
        confirmLabel={ACTIONS[asking ?? 'cancel'].confirm}
        dismissLabel="Keep it running"
        // stop shows its own failure beside the buttons, so nothing waits for it here
        onConfirm={() => asking !== null && void stop(asking)}
        onDismiss={() => setAsking(null)}
      >
        <p>{ACTIONS[asking ?? 'cancel'].explanation}</p>
      </ConfirmDialog>
    </div>
  );
}
