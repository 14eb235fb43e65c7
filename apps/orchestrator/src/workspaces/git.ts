import { spawn } from 'node:child_process';

/** How git is run: the environment it gets (PATH, HOME, SSH_AUTH_SOCK… from the caller; never GIT_* ones) and its time. */
export interface GitRunner {
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface GitOptions {
  readonly cwd?: string;
  /** Of stdout, the most kept; the rest is only counted (a patch may be far bigger than what is sent). */
  readonly keepBytes?: number;
  /** Exit codes that are answers rather than failures (`git diff --quiet` says 1 for "differs"). */
  readonly okCodes?: readonly number[];
}

export interface GitOutput {
  readonly code: number;
  /** The first `keepBytes` of stdout. */
  readonly stdout: Buffer;
  /** The whole of stdout's length. */
  readonly size: number;
}

export class GitError extends Error {
  constructor(args: readonly string[], problem: string) {
    super(`git ${args.join(' ')}: ${problem}`);
    this.name = 'GitError';
  }
}

const STDERR_KEPT = 8 * 1024;

/**
 * The environment git runs with: the caller's, less every GIT_* variable (a GIT_DIR or GIT_WORK_TREE inherited
 * would point git at another repository), with prompts off (no terminal waits for a password that never comes)
 * and only the protocols the contract allows.
 */
export function gitEnvironment(base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) if (value !== undefined && !name.startsWith('GIT_')) env[name] = value;
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    GIT_ALLOW_PROTOCOL: 'file:https:ssh',
  };
}

/** Runs git without a shell, killed at the runner's timeout; a non-zero exit not in `okCodes` throws with git's stderr. */
export function runGit(runner: GitRunner, args: readonly string[], options: GitOptions = {}): Promise<GitOutput> {
  const keep = options.keepBytes ?? Number.MAX_SAFE_INTEGER;
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: runner.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: runner.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept < keep) {
        const part = chunk.subarray(0, keep - kept);
        chunks.push(part);
        kept += part.length;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_KEPT) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => reject(new GitError(args, error.message)));
    child.on('close', (code, signal) => {
      if (signal !== null) return reject(new GitError(args, `killed by ${signal} (timeout ${runner.timeoutMs} ms)`));
      if (code !== 0 && !(options.okCodes ?? []).includes(code ?? -1))
        return reject(new GitError(args, `exit ${code}: ${stderr.trim().slice(0, STDERR_KEPT)}`));
      resolve({ code: code ?? 0, stdout: Buffer.concat(chunks), size });
    });
  });
}
