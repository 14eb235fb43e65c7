import { execFileSync } from 'node:child_process';
import { ConfigurationError } from '@mosaic/http-kit';

/** The account agents run as (AGENT_USER), as the system's user database had it at start-up. */
export interface AgentUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

/**
 * Looks `name` up once, through `getent` so that every source the system's
 * user database has (files, LDAP, …) counts. Running agents as another user
 * takes root: without it every spawn would fail, so start-up fails instead.
 */
export function lookUpAgentUser(name: string): AgentUser {
  const refuse = (problem: string) => new ConfigurationError(`Invalid configuration: AGENT_USER=${JSON.stringify(name)}: ${problem}`);
  let entry: string;
  try {
    entry = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (error) {
    // getent exits 2 for a name it does not know.
    if ((error as { status?: number }).status === 2) throw refuse('no such user');
    throw refuse(`the user database could not be read (${(error as Error).message})`);
  }
  // name:password:uid:gid:gecos:home:shell
  const fields = entry.trim().split(':');
  const [entryName, , uid, gid, , home, shell] = fields;
  if (fields.length !== 7 || !/^\d+$/.test(uid ?? '') || !/^\d+$/.test(gid ?? ''))
    throw refuse(`unexpected user database entry ${JSON.stringify(entry.trim())}`);
  const user = { name: entryName!, uid: Number(uid), gid: Number(gid), home: home!, shell: shell! };
  const ownUid = process.getuid?.();
  if (ownUid !== undefined && ownUid !== 0 && ownUid !== user.uid) {
    throw refuse(`running agents as another user needs the orchestrator to run as root (it runs as uid ${ownUid})`);
  }
  return user;
}
