// Whether an exec can run through nsenter, and with what: the container's main
// process to borrow namespaces from, the environment, working directory and
// credentials Docker's own exec would give the command. Pure: the caller reads
// Docker's inspect and /proc and hands the text in.
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

export interface NsenterTarget extends ProcessIdentity {
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
  | { handler: 'nsenter'; target: NsenterTarget }
  /** Docker's exec API; `reason` says why, for the debug log. */
  | { handler: 'docker'; reason: string };

export interface PlanContext {
  /** The agent's own credentials: when the command needs the same, nsenter need not switch. */
  self: ExecCredentials;
  /** setpriv is needed to set supplementary groups; without it such execs go through Docker. */
  setprivAvailable: boolean;
}

/**
 * Variables the host's dynamic loader and C library act on. nsenter (and setpriv)
 * run on the host with the container's environment before they enter it: an
 * LD_PRELOAD pointing at /proc/<pid>/root/… would load the container's code into a
 * root process on the host. glibc drops these for setuid programs for the same
 * reason; a container that sets one is exec'd through Docker instead.
 */
const HOST_LOADER_VARIABLE = /^(LD_|GLIBC_|MALLOC_)|^(GCONV_PATH|GETCONF_DIR|HOSTALIASES|LOCALDOMAIN|LOCPATH|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TZDIR)$/;

export function isHostLoaderVariable(key: string): boolean {
  return HOST_LOADER_VARIABLE.test(key);
}

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
  return environ.split('\0').find((entry) => entry.startsWith(prefix))?.slice(prefix.length);
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

/** Supplementary groups besides the primary one: listing the primary group again grants nothing more. */
function extraGroups(credentials: ExecCredentials): number[] {
  return [...new Set(credentials.groups)].filter((g) => g !== credentials.gid).sort((a, b) => a - b);
}

/** How nsenter gets the command its credentials; see nsenterCommand. */
export type CredentialSwitch = 'none' | 'nsenter' | 'setpriv';

/**
 * nsenter's own --setuid/--setgid drop every supplementary group, which is right
 * when the command has none besides its primary group (only getgroups() tells the
 * two apart, never a permission check); other groups need setpriv, run before
 * nsenter since nsenter must stay root (with its capabilities) to enter the namespaces.
 */
export function credentialSwitch(wanted: ExecCredentials, self: ExecCredentials): CredentialSwitch {
  const extra = extraGroups(wanted);
  const selfExtra = extraGroups(self);
  const sameExtra = extra.length === selfExtra.length && extra.every((g, i) => g === selfExtra[i]);
  if (wanted.uid === self.uid && wanted.gid === self.gid && sameExtra) return 'none';
  return extra.length === 0 ? 'nsenter' : 'setpriv';
}

/**
 * The exec route for a container: nsenter when its main process runs and the
 * command's environment and credentials can be given exactly as Docker would,
 * else Docker's exec API.
 */
export function planExec(inspect: InspectFacts, proc: ProcFacts | undefined, context: PlanContext): ExecRoute {
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
  const risky = configEnv.map((e) => e.slice(0, Math.max(0, e.indexOf('=')))).find(isHostLoaderVariable);
  if (risky) return { handler: 'docker', reason: `its environment sets ${risky}, which the host's loader would act on` };
  if (configEnv.some((e) => e.includes('\0'))) return { handler: 'docker', reason: 'its environment holds a NUL byte' };

  const user = numericUser(config.User);
  if (!user) return { handler: 'docker', reason: `user "${config.User}" is a name; Docker resolves it in the image` };
  const running = parseCredentials(proc.status);
  // The main process runs as the configured user unless it switched (an entrypoint dropping root): then its groups are no guide.
  if (!running || running.uid !== user.uid || (user.gid !== undefined && running.gid !== user.gid)) {
    return { handler: 'docker', reason: `the main process no longer runs as user "${config.User ?? ''}"` };
  }
  const credentials = running;
  if (credentialSwitch(credentials, context.self) === 'setpriv' && !context.setprivAvailable) {
    return { handler: 'docker', reason: 'supplementary groups need setpriv, which is not installed' };
  }

  const home = environValue(proc.environ, 'HOME') || '/';
  return {
    handler: 'nsenter',
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
