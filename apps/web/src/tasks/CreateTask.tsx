import { type FormEvent, useState } from 'react';
import { type CreateTask as NewTask, type Dispatch, type Task, TASK_PRIORITIES, type TaskPriority } from '@mosaic/orchestrator-contract';
import { type ApiClient, ApiError, messageOf } from '../api/client';
import { navigate, sessionHref } from '../route';

interface Props {
  readonly client: ApiClient;
  /** A dispatch the orchestrator's side refused (queue full, unreachable), for the banner. */
  readonly onRefused: (error: ApiError) => void;
}

/** Creates a task and dispatches it, then shows the session it got. */
export function CreateTask({ client, onRefused }: Props) {
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [priority, setPriority] = useState<TaskPriority>('normal');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // A task created whose dispatch failed: dispatching it again must not create a second one.
  const [undispatched, setUndispatched] = useState<Task | null>(null);

  async function dispatch(task: Task) {
    try {
      const answer = await client.post<Dispatch>(`/tasks/${encodeURIComponent(task.id)}/dispatch`);
      navigate(sessionHref(answer.session.id));
    } catch (failure) {
      setUndispatched(task);
      if (failure instanceof ApiError && (failure.status === 503 || failure.status === 429)) onRefused(failure);
      setError(`Task created, but its dispatch failed: ${messageOf(failure)}`);
    }
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (title.trim() === '') {
      setError('A title is required.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: NewTask = { title: title.trim(), priority, ...(description.trim() === '' ? {} : { description }) };
      await dispatch(await client.post<Task>('/tasks', body));
    } catch (failure) {
      setError(`The task could not be created: ${messageOf(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  async function retry() {
    if (undispatched === null) return;
    setBusy(true);
    setError(null);
    await dispatch(undispatched);
    setBusy(false);
  }

  return (
    <section aria-labelledby="new-task-heading" className="new-task">
      <h2 id="new-task-heading">New task</h2>
      {/* submit shows its own failure in the form, so nothing waits for it here */}
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label htmlFor="task-title">Title</label>
        <input
          id="task-title"
          required
          maxLength={500}
          value={title}
          onChange={(event) => setTitle(event.target.value)}
          aria-invalid={error !== null && title.trim() === ''}
          autoFocus
        />
        <label htmlFor="task-description">Description</label>
        <textarea
          id="task-description"
          rows={5}
          maxLength={20_000}
          value={description}
          onChange={(event) => setDescription(event.target.value)}
        />
        <label htmlFor="task-priority">Priority</label>
        <select id="task-priority" value={priority} onChange={(event) => setPriority(event.target.value as TaskPriority)}>
          {TASK_PRIORITIES.map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
        {error !== null && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Working…' : 'Create and dispatch'}
          </button>
          {undispatched !== null && (
            <button type="button" disabled={busy} onClick={() => void retry()}>
              Dispatch “{undispatched.title}” again
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
