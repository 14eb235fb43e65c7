import { chmod, chown, lstat, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

export const TASK_FILE_NAME = 'task.json';

/** Whom a session's directory and task file belong to, when agents run as another user (AGENT_USER). */
export interface WorkdirOwner {
  readonly uid: number;
  readonly gid: number;
}

export class WorkdirRootError extends Error {
  constructor(root: string, problem: string, variable: string) {
    super(`${variable}=${JSON.stringify(root)}: ${problem}`);
    this.name = 'WorkdirRootError';
  }
}

/**
 * Makes `root` ready to hold the sessions' directories: created private (0700)
 * when missing. One that exists must be a directory of this process's user that
 * neither group nor others may list or write, nor others enter; anything else
 * may be another user's trap (a planted directory or symlink in a shared temp
 * directory) and is refused. With an agent user, its group may enter (0710),
 * which lets the agent reach its own session's directory and no other.
 */
export async function prepareWorkdirRoot(
  root: string,
  agentUser: WorkdirOwner | undefined,
  variable = 'SESSION_WORKDIR_ROOT',
): Promise<void> {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    // Something that is not a directory is already there: the checks below say what.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new WorkdirRootError(root, `cannot be created (${code ?? (error as Error).message})`, variable);
  }
  const stats = await lstat(root);
  if (stats.isSymbolicLink()) throw new WorkdirRootError(root, 'is a symbolic link; name the directory itself', variable);
  if (!stats.isDirectory()) throw new WorkdirRootError(root, 'is not a directory', variable);
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid)
    throw new WorkdirRootError(root, `belongs to uid ${stats.uid}, not to this process's uid ${uid}`, variable);
  if ((stats.mode & 0o067) !== 0) {
    throw new WorkdirRootError(root, `is open to other users (mode ${(stats.mode & 0o777).toString(8)}); make it 0700`, variable);
  }
  // The directory is ours and in no one else's reach, so nobody can swap it between the checks and these calls.
  if (agentUser === undefined) {
    await chmod(root, 0o700);
  } else {
    await chown(root, stats.uid, agentUser.gid);
    await chmod(root, 0o710);
  }
}

/**
 * Creates the session's directory `workdir` (0700) and its task file (0600)
 * in it, both given to `owner` when set. Neither may exist already: the
 * directory is made, and the file opened, exclusively, so nothing planted
 * there is followed or reused. Returns the task file's path; on failure the
 * caller removes the directory.
 */
export async function createSessionWorkdir(workdir: string, task: string, owner: WorkdirOwner | undefined): Promise<string> {
  await mkdir(workdir, { mode: 0o700 });
  const taskFile = join(workdir, TASK_FILE_NAME);
  const file = await open(taskFile, 'wx', 0o600);
  try {
    await file.writeFile(task);
    if (owner !== undefined) await file.chown(owner.uid, owner.gid);
  } finally {
    await file.close();
  }
  if (owner !== undefined) await chown(workdir, owner.uid, owner.gid);
  return taskFile;
}
