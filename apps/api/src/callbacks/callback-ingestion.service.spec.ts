import type { CallbackEvent } from '@mosaic/orchestrator-contract';
import { statusReportOf } from './callback-ingestion.service';

describe('statusReportOf', () => {
  const receivedAt = new Date('2026-01-01T00:10:00.000Z');
  const envelope = { event_id: 'e1', session_id: 'o1', sequence: 1, timestamp: '2026-01-01T00:05:00.000Z' };

  it('reports the status of a status event at the time it happened', () => {
    const event: CallbackEvent = { ...envelope, type: 'status', status: 'running', data: {} };

    expect(statusReportOf(event, receivedAt)).toEqual({ status: 'running', at: new Date(envelope.timestamp) });
  });

  it('takes exit code and error from a result event, leaving out what it does not say', () => {
    const failed: CallbackEvent = { ...envelope, type: 'result', status: 'failed', data: { exit_code: 2, error: 'boom', summary: 's' } };
    const completed: CallbackEvent = { ...envelope, type: 'result', status: 'completed', data: { summary: 'done' } };

    expect(statusReportOf(failed, receivedAt)).toEqual({ status: 'failed', at: new Date(envelope.timestamp), exitCode: 2, error: 'boom' });
    expect(statusReportOf(completed, receivedAt)).toEqual({ status: 'completed', at: new Date(envelope.timestamp) });
  });

  it('takes exit code 0 as an exit code', () => {
    const event: CallbackEvent = { ...envelope, type: 'status', status: 'completed', data: { exit_code: 0 } };

    expect(statusReportOf(event, receivedAt)?.exitCode).toBe(0);
  });

  it('dates a change from the future at its arrival instead', () => {
    const event: CallbackEvent = { ...envelope, timestamp: '2026-01-01T01:00:00.000Z', type: 'status', status: 'completed', data: {} };

    expect(statusReportOf(event, receivedAt)?.at).toEqual(receivedAt);
  });

  it('reports nothing for progress and log events, even when they carry a status', () => {
    const progress: CallbackEvent = { ...envelope, type: 'progress', status: 'completed', data: { message: 'm' } };
    const log: CallbackEvent = { ...envelope, type: 'log', data: { stream: 'stdout', line: 'l' } };

    expect(statusReportOf(progress, receivedAt)).toBeUndefined();
    expect(statusReportOf(log, receivedAt)).toBeUndefined();
  });

  it('reports nothing for an artifact event, even when it carries a status', () => {
    const artifact: CallbackEvent = {
      ...envelope,
      type: 'artifact',
      status: 'completed',
      data: {
        name: 'changes.patch',
        media_type: 'text/x-diff',
        size: 0,
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        content_base64: '',
      },
    };

    expect(statusReportOf(artifact, receivedAt)).toBeUndefined();
  });
});
