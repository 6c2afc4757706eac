// Exec without Docker: the command runs through nsenter in the namespaces (mount,
// UTS, IPC, network, pid) of the container's main process, the way dockershim's
// --exec-handler=nsenter did. A Docker exec costs a runc exec through
// containerd-shim (tens of ms of CPU); this costs two short-lived host processes,
// started by the exec helper (exec-helper.ts) so the agent itself never forks. The
// command gets the environment, working directory and uid/gid/groups Docker's exec
// would give it, and unlike Docker's exec it is killed at its timeout (its whole
// process group).
//
// What it does not get (dockershim's handler had the same limits): the container's
// capability set, seccomp and AppArmor profiles, and cgroup. A command run as root
// keeps the agent's capabilities, and its CPU and memory count against the host,
// not the container. Non-root commands have no capabilities at all.
//
// The main process's pid is cached per container and trusted only while
// /proc/<pid> is the same process (same start time) in the container's cgroup; a
// restarted container is inspected again, so a command never lands in the
// namespaces of whatever process took over a dead pid.
import { accessSync, constants as fsConstants, readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../../../log/logger.js';
import { silentLogger } from '../../../log/logger.js';
import type { ExecOptions, ExecResult } from '../../runtime.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './capped-output.js';
import { ExecHelper, type HelperCommand } from './exec-helper.js';
import { NativeExecError, NativeExecHelper, nativeExecHelperInstalled, type NativeExecTemplate } from './native-exec-helper.js';
import { planNativeExec, type NativeExecFacts } from './native-exec-plan.js';
import {
  cgroupBelongsTo, credentialSwitch, isSameProcess, parseCredentials, parseStartTime, planExec, type ExecCredentials, type ExecRoute,
  type InspectFacts, type NsenterTarget, type ProcFacts, type ProcessIdentity,
} from './nsenter-target.js';

/**
 * How DockerRuntime runs exec: Docker's exec API, or nsenter from the agent; auto is
 * nsenter where the native helper confines commands as runc would, else Docker.
 */
export type ExecHandler = 'docker' | 'nsenter' | 'auto';

export const NSENTER_PATH = '/usr/bin/nsenter';
export const SETPRIV_PATH = '/usr/bin/setpriv';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What an asked-for handler comes to on this host. Entering namespaces needs root.
 * auto: nsenter only with the native helper, which confines commands as runc does.
 * nsenter: the native helper, else /usr/bin/nsenter through the Node helper (with
 * the limits written at the top of this file).
 */
export function resolveExecHandler(asked: ExecHandler, host: { isRoot: boolean; nsenterInstalled: boolean; nativeInstalled: boolean } = {
  isRoot: process.getuid?.() === 0,
  nsenterInstalled: isExecutable(NSENTER_PATH),
  nativeInstalled: nativeExecHelperInstalled(),
}): 'docker' | 'nsenter' {
  if (asked === 'docker' || !host.isRoot) return 'docker';
  if (host.nativeInstalled) return 'nsenter';
  return asked === 'nsenter' && host.nsenterInstalled ? 'nsenter' : 'docker';
}

/**
 * The execs nsenter serves: bounded and non-interactive, as probes and hooks run
 * them. An exec with input, a terminal or no deadline is a person's (`nodelet exec`)
 * and goes through Docker, with the container's full security context.
 */
export function isBatchExec(options: ExecOptions): boolean {
  return options.tty !== true && options.stdin === undefined && (options.timeoutMs ?? 0) > 0;
}

export interface NsenterCommand {
  file: string;
  args: string[];
}

/**
 * The host command line for `cmd` in the target's namespaces. `--root` (the main
 * process's root) and `--wdns` (the working directory inside it) leave nothing of
 * the host's filesystem reachable from the command.
 */
export function nsenterCommand(target: NsenterTarget, cmd: readonly string[], self: ExecCredentials): NsenterCommand {
  const enter = [
    '--target', String(target.pid), '--mount', '--uts', '--ipc', '--net', '--pid', '--root', `--wdns=${target.workingDir}`,
  ];
  const { uid, gid, groups } = target.credentials;
  switch (credentialSwitch(target.credentials, self)) {
    case 'none':
      return { file: NSENTER_PATH, args: [...enter, '--', ...cmd] };
    case 'nsenter':
      return { file: NSENTER_PATH, args: [...enter, '--setuid', String(uid), '--setgid', String(gid), '--', ...cmd] };
    case 'setpriv': {
      // setpriv sets the groups and keeps uid 0, so nsenter can still enter; nsenter then drops to the uid.
      const setuid = uid === self.uid ? [] : ['--setuid', String(uid)];
      return {
        file: SETPRIV_PATH,
        args: ['--regid', String(gid), '--groups', groups.join(','), '--', NSENTER_PATH, ...enter, ...setuid, '--', ...cmd],
      };
    }
  }
}

/** Reads one file under /proc (never blocks on disk: procfs is generated in memory). */
export type ProcReader = (path: string) => string;

export interface NsenterExecOptions {
  /** Docker's inspect of the container (throws NotFoundError for an unknown one). */
  inspect: (containerId: string) => Promise<InspectFacts>;
  readProc?: ProcReader;
  /** The agent's credentials; read from /proc/self/status by default. */
  self?: ExecCredentials;
  setprivAvailable?: boolean;
  /** Runs the command; through an ExecHelper of its own by default (tests replace it). */
  run?: (command: HelperCommand) => Promise<ExecResult>;
  /** The native helper; by default one of its own when installed, null = never. */
  native?: NativeExecHelper | null;
  /** /proc/<pid>/ns/user of a process (a link's text); the agent's is compared. */
  readUserNamespace?: (pid: number | 'self') => string | undefined;
  logger?: Logger;
}

const readProcFile: ProcReader = (path) => readFileSync(path, 'utf8');

/**
 * Exec through nsenter for containers that allow it, with the route (and the main
 * process's pid) cached per container ID. `exec` answers undefined when the
 * command must go through Docker instead.
 */
export class NsenterExec {
  private readonly routes = new Map<string, { route: ExecRoute; identity: ProcessIdentity; native?: NativeExecTemplate }>();
  private readonly native: NativeExecHelper | undefined;
  private readonly readUserNamespace: (pid: number | 'self') => string | undefined;
  private readonly readProc: ProcReader;
  private readonly self: ExecCredentials;
  private readonly setprivAvailable: boolean;
  private readonly run: NonNullable<NsenterExecOptions['run']>;
  private readonly log: Logger;
  private helper?: ExecHelper;

  constructor(private readonly options: NsenterExecOptions) {
    this.readProc = options.readProc ?? readProcFile;
    this.self = options.self ?? ownCredentials(this.readProc);
    this.setprivAvailable = options.setprivAvailable ?? isExecutable(SETPRIV_PATH);
    this.run = options.run ?? ((command) => (this.helper ??= new ExecHelper()).run(command));
    this.log = options.logger ?? silentLogger;
    this.native = options.native === null ? undefined : options.native ?? (nativeExecHelperInstalled() ? new NativeExecHelper() : undefined);
    this.readUserNamespace = options.readUserNamespace ?? ((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/user`);
      } catch {
        return undefined;
      }
    });
  }


  /** The result, or undefined when this exec is Docker's to run. */
  async exec(containerId: string, cmd: string[], options: ExecOptions): Promise<ExecResult | undefined> {
    if (!isBatchExec(options)) return undefined;
    for (let attempt = 0; ; attempt++) {
      const route = await this.route(containerId);
      if (route.handler === 'docker') return undefined;
      const template = this.routes.get(containerId)?.native;
      if (template && this.native) {
        try {
          return await this.native.run(template, {
            argv: cmd, timeoutMs: options.timeoutMs ?? 0, maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
          });
        } catch (err) {
          if (!(err instanceof NativeExecError)) throw err;
          // The main process is gone or another: inspect again, once; the command never ran.
          if (err.targetGone && attempt === 0) {
            this.routes.delete(containerId);
            continue;
          }
          if (err.targetGone) throw err;
          // Set-up failed (a cgroup or namespace refused): Docker's exec still can.
          this.log.warn({ container: containerId.slice(0, 12), err: err.message }, 'the native exec helper could not set the command up; exec through Docker');
          return undefined;
        }
      }
      let result: ExecResult;
      try {
        result = await this.run(helperCommand(nsenterCommand(route.target, cmd, this.self), route.target.env, options));
      } catch (err) {
        if (!isSpawnFailure(err)) throw err;
        // nsenter (or setpriv) went missing or cannot be run: Docker still can.
        this.log.warn({ container: containerId.slice(0, 12), err: (err as Error).message }, 'cannot run nsenter; exec through Docker');
        return undefined;
      }
      // The main process died between the check and nsenter's entering (nsenter's own
      // error, the command never ran): inspect the container again, once.
      const enterFailed = result.exitCode !== 0 && !result.timedOut && result.stderr.subarray(0, 9).toString() === 'nsenter: ';
      if (attempt === 0 && enterFailed && !this.stillHolds(route.target)) {
        this.routes.delete(containerId);
        continue;
      }
      return result;
    }
  }

  /** The container is gone: drop what is cached about it. */
  forget(containerId: string): void {
    this.routes.delete(containerId);
  }

  /** How many containers have a cached route (for tests and metrics). */
  get cachedRoutes(): number {
    return this.routes.size;
  }

  /** The cached route while its process still holds the pid; else a fresh inspect. */
  async route(containerId: string): Promise<ExecRoute> {
    const cached = this.routes.get(containerId);
    // The native helper checks the process's identity itself, through a pidfd, on every exec.
    if (cached && (cached.native || this.stillHolds(cached.identity))) return cached.route;
    this.routes.delete(containerId);
    const inspect = await this.options.inspect(containerId);
    const pid = inspect.State?.Running ? inspect.State.Pid ?? 0 : 0;
    const proc = pid > 0 ? this.procFacts(pid) : undefined;
    let route = planExec(inspect, proc, { self: this.self, setprivAvailable: this.setprivAvailable });
    let native: NativeExecTemplate | undefined;
    if (route.handler === 'nsenter' && this.native && proc) {
      const plan = planNativeExec(route.target, this.nativeFacts(pid, proc));
      if ('template' in plan) native = plan.template;
      else route = { handler: 'docker', reason: plan.reason };
    }
    // Either answer holds as long as the main process does (the container's config never changes).
    const identity = route.handler === 'nsenter' ? route.target : proc && identityOf(inspect.Id, pid, proc);
    if (identity) this.routes.set(containerId, { route, identity, ...(native ? { native } : {}) });
    if (route.handler === 'docker') this.log.debug({ container: containerId.slice(0, 12), reason: route.reason }, 'exec through Docker');
    return route;
  }

  private nativeFacts(pid: number, proc: ProcFacts): NativeExecFacts {
    let lsmLabel: string | undefined;
    try {
      lsmLabel = this.readProc(`/proc/${pid}/attr/current`).replace(/\0/g, '').trim();
    } catch {
      // EINVAL: no LSM labels processes on this kernel
    }
    let mountinfo = '';
    try {
      mountinfo = this.readProc('/proc/self/mountinfo');
    } catch {
      // no /proc: no cgroup can be placed, and the plan says so
    }
    const own = this.readUserNamespace('self');
    return {
      status: proc.status, cgroup: proc.cgroup, mountinfo, sameUserNamespace: own !== undefined && own === this.readUserNamespace(pid),
      ...(lsmLabel !== undefined ? { lsmLabel } : {}),
    };
  }

  private stillHolds(identity: ProcessIdentity): boolean {
    try {
      return isSameProcess(identity, {
        stat: this.readProc(`/proc/${identity.pid}/stat`),
        cgroup: this.readProc(`/proc/${identity.pid}/cgroup`),
      });
    } catch {
      return false; // the pid is gone
    }
  }

  private procFacts(pid: number): ProcFacts | undefined {
    try {
      return {
        stat: this.readProc(`/proc/${pid}/stat`),
        status: this.readProc(`/proc/${pid}/status`),
        cgroup: this.readProc(`/proc/${pid}/cgroup`),
        environ: this.readProc(`/proc/${pid}/environ`),
      };
    } catch {
      return undefined;
    }
  }
}

/** The agent's uid, gid and supplementary groups as the kernel has them (Node's getgroups() adds the gid). */
function ownCredentials(readProc: ProcReader): ExecCredentials {
  try {
    const parsed = parseCredentials(readProc('/proc/self/status'));
    if (parsed) return parsed;
  } catch {
    // no /proc: fall through
  }
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

/** The identity of a live main process of the container, when the facts show one. */
function identityOf(containerId: string, pid: number, proc: ProcFacts): ProcessIdentity | undefined {
  const startTime = parseStartTime(proc.stat);
  return startTime !== undefined && cgroupBelongsTo(proc.cgroup, containerId) ? { containerId, pid, startTime } : undefined;
}

/** The request to the exec helper: the command line, its environment as a map, its limits. */
export function helperCommand(command: NsenterCommand, env: readonly string[], options: ExecOptions): HelperCommand {
  const map: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf('=');
    map[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return {
    file: command.file,
    args: command.args,
    env: map,
    timeoutMs: options.timeoutMs ?? 0,
    maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
  };
}

/** child_process reports a binary it could not start (ENOENT, EACCES) with syscall "spawn <file>". */
function isSpawnFailure(err: unknown): boolean {
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  return typeof syscall === 'string' && syscall.startsWith('spawn');
}
