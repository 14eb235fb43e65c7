import { useEffect, useState } from 'react';
import type { Task } from '@mosaic/orchestrator-contract';
import type { ApiClient } from '../api/client';

/** The session's task, for what the session itself does not carry (its agent, its repository); null until read or if unreadable. */
export function useTask(client: ApiClient, taskId: string | undefined): Task | null {
  const [task, setTask] = useState<Task | null>(null);
  useEffect(() => {
    if (taskId === undefined) return;
    const controller = new AbortController();
    // A task the page cannot read leaves its facts unknown: the session is still worth showing.
    client.get<Task>(`/tasks/${encodeURIComponent(taskId)}`, controller.signal).then(setTask, () => {});
    return () => controller.abort();
  }, [client, taskId]);
  return task;
}
