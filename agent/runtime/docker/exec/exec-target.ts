// Whether an exec can run in a container without Docker, and with what: the
// container's main process to borrow namespaces from, the environment, working
// directory and credentials Docker's own exec would give the command. Pure: the
// caller reads Docker's inspect and /proc and hands the text in.
//
// Docker's exec environment (daemon's CreateDaemonEnvironment, then runc): PATH
// (Docker's default) and HOSTNAME, overridden or extended by the container's Env,
// then HOME when still unset, which runc takes from the image's passwd entry for
// the user. runc did that same lookup for the main process, so its HOME is read
// from /proc/<pid>/environ rather than from the image's files.

/** Docker's default PATH for Linux containers. */
export const DOCKER_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ExecCredentials {
  uid: number;
  gid: number;
  /** Supplementary groups, as /proc/<pid>/status lists them (the primary group only when listed). */
  groups: number[];
}

/** Which process a target is: a pid is only trusted while the same process, in the same container, holds it. */
export interface ProcessIdentity {
  /** The container's full ID, as its cgroup paths spell it. */
  containerId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): a reused pid carries another. */
  startTime: number;
}

export interface ExecTarget extends ProcessIdentity {
  /** `KEY=value` entries, in Docker's order. */
  env: string[];
  /** Absolute path inside the container. */
  workingDir: string;
  credentials: ExecCredentials;
}

/** The part of Docker's container inspect the plan reads. */
export interface InspectFacts {
  Id: string;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean; Pid?: number };
  Config?: { User?: string; Env?: string[] | null; WorkingDir?: string; Hostname?: string };
}

/** The main process's files under /proc/<pid>/, as text. */
export interface ProcFacts {
  stat: string;
  status: string;
  cgroup: string;
  environ: string;
}

export type ExecRoute =
  | { handler: 'native'; target: ExecTarget }
  /** Docker's exec API; `reason` says why, for the debug log. */
  | { handler: 'docker'; reason: string };

/** Field 22 (starttime) of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseStartTime(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const value = Number(fields[19]);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Real uid, real gid and supplementary groups from /proc/<pid>/status. */
export function parseCredentials(status: string): ExecCredentials | undefined {
  const line = (name: string) => new RegExp(`^${name}:\\t?(.*)$`, 'm').exec(status)?.[1]?.trim();
  const uid = Number(line('Uid')?.split(/\s+/)[0]);
  const gid = Number(line('Gid')?.split(/\s+/)[0]);
  const groupsText = line('Groups');
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || groupsText === undefined) return undefined;
  const groups = groupsText === '' ? [] : groupsText.split(/\s+/).map(Number);
  if (groups.some((g) => !Number.isInteger(g))) return undefined;
  return { uid, gid, groups };
}

/** Whether /proc/<pid>/cgroup places the process in the container (cgroupfs `/docker/<id>` or systemd `docker-<id>.scope`). */
export function cgroupBelongsTo(cgroup: string, containerId: string): boolean {
  return containerId.length >= 12 && cgroup.split('\n').some((line) => line.includes(containerId));
}

/** Whether the pid still is the process the identity was taken from. */
export function isSameProcess(identity: ProcessIdentity, now: { stat: string; cgroup: string }): boolean {
  return parseStartTime(now.stat) === identity.startTime && cgroupBelongsTo(now.cgroup, identity.containerId);
}

/**
 * Docker's `User` as numbers: "" is root; "uid" or "uid:gid". A name needs the
 * image's passwd and group files, which Docker reads and the agent does not: undefined.
 */
export function numericUser(user: string | undefined): { uid: number; gid?: number } | undefined {
  if (user === undefined || user === '') return { uid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) return undefined;
  const uid = Number(m[1]);
  return m[2] === undefined ? { uid } : { uid, gid: Number(m[2]) };
}

/** The value of `key` in NUL-separated /proc/<pid>/environ text. */
export function environValue(environ: string, key: string): string | undefined {
  const prefix = `${key}=`;
  return environ
    .split('\0')
    .find((entry) => entry.startsWith(prefix))
    ?.slice(prefix.length);
}

/** Docker's exec environment: PATH and HOSTNAME, overridden or extended by the container's Env, then HOME if unset. */
export function execEnvironment(configEnv: readonly string[], hostname: string, home: string): string[] {
  const env = [`PATH=${DOCKER_DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  const index = new Map(env.map((entry, i) => [entry.slice(0, entry.indexOf('=')), i]));
  for (const entry of configEnv) {
    const eq = entry.indexOf('=');
    // Docker keeps a bare `KEY` (no value); a process environment cannot carry it.
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, env.length);
      env.push(entry);
    } else {
      env[at] = entry;
    }
  }
  if (!index.has('HOME')) env.push(`HOME=${home}`);
  return env;
}

/**
 * The exec route for a container: native when its main process runs and the
 * command's environment and credentials can be given exactly as Docker would,
 * else Docker's exec API.
 */
export function planExec(inspect: InspectFacts, proc: ProcFacts | undefined): ExecRoute {
  const state = inspect.State;
  const pid = state?.Pid ?? 0;
  // Docker's exec answers these itself ("is not running", "is paused", "is restarting").
  if (!state?.Running || state.Paused || state.Restarting || pid <= 0) return { handler: 'docker', reason: 'the container is not running' };
  if (!proc) return { handler: 'docker', reason: `its main process ${pid} is gone` };
  const startTime = parseStartTime(proc.stat);
  if (startTime === undefined || !cgroupBelongsTo(proc.cgroup, inspect.Id)) {
    return { handler: 'docker', reason: `process ${pid} does not belong to the container` };
  }

  const config = inspect.Config ?? {};
  const configEnv = config.Env ?? [];
  if (configEnv.some((e) => e.includes('\0'))) return { handler: 'docker', reason: 'its environment holds a NUL byte' };

  const user = numericUser(config.User);
  if (!user) return { handler: 'docker', reason: `user "${config.User}" is a name; Docker resolves it in the image` };
  const running = parseCredentials(proc.status);
  // The main process runs as the configured user unless it switched (an entrypoint dropping root): then its groups are no guide.
  if (!running || running.uid !== user.uid || (user.gid !== undefined && running.gid !== user.gid)) {
    return { handler: 'docker', reason: `the main process no longer runs as user "${config.User ?? ''}"` };
  }
  const credentials = running;

  const home = environValue(proc.environ, 'HOME') || '/';
  return {
    handler: 'native',
    target: {
      containerId: inspect.Id,
      pid,
      startTime,
      env: execEnvironment(configEnv, config.Hostname ?? '', home),
      workingDir: config.WorkingDir || '/',
      credentials,
    },
  };
}
