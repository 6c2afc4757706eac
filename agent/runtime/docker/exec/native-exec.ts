// Exec without Docker, through the native helper (native-exec-helper.ts): the command
// starts in the namespaces, cgroups and root of the container's main process, with
// the confinement runc gave that process (native-exec-plan.ts), at the cost of a
// fork instead of a runc exec. Containers whose confinement the helper cannot
// reproduce, and execs that are a person's rather than a probe's, go through Docker.
//
// The main process's pid is cached per container; the helper checks through a pidfd
// on every exec that the pid is still that process (same start time), so a command
// never lands in the namespaces of whatever took over a dead pid, and a restarted
// container is inspected again.
import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../../../log/logger.js';
import { silentLogger } from '../../../log/logger.js';
import type { ExecHandler, ExecOptions, ExecResult } from '../../runtime.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './capped-output.js';
import {
  cgroupBelongsTo,
  isSameProcess,
  parseStartTime,
  planExec,
  type ExecRoute,
  type InspectFacts,
  type ProcFacts,
  type ProcessIdentity,
} from './exec-target.js';
import { NativeExecError, NativeExecProtocolError, type NativeExecCommand, type NativeExecTemplate } from './native-exec-protocol.js';
import { planNativeExec, type NativeExecFacts } from './native-exec-plan.js';

/** The handler this host gets for the one asked for. */
export interface ResolvedExecHandler {
  handler: Exclude<ExecHandler, 'auto'>;
  /** Set when `native` was asked for and cannot be had. */
  unmet?: string;
}

/**
 * What an asked-for handler comes to on this host. Entering another process's
 * namespaces needs root, and the helper must have been built. auto and native
 * differ only in that a native that cannot be had is worth a warning.
 */
export function resolveExecHandler(asked: ExecHandler, host: { isRoot: boolean; nativeInstalled: boolean }): ResolvedExecHandler {
  if (asked === 'docker') return { handler: 'docker' };
  const unmet = !host.isRoot
    ? 'the agent does not run as root'
    : !host.nativeInstalled
      ? 'the native exec helper is not built (npm run build needs a C compiler)'
      : undefined;
  if (unmet === undefined) return { handler: 'native' };
  return asked === 'native' ? { handler: 'docker', unmet } : { handler: 'docker' };
}

/**
 * The execs the native helper serves: bounded and non-interactive, as probes and
 * hooks run them. An exec with input, a terminal or no deadline is a person's
 * (`nodelet exec`) and goes through Docker.
 */
export function isBatchExec(options: ExecOptions): boolean {
  return options.tty !== true && options.stdin === undefined && (options.timeoutMs ?? 0) > 0;
}

/** Reads one file under /proc (never blocks on disk: procfs is generated in memory). */
export type ProcReader = (path: string) => string;

/** What runs the commands: the native helper (tests replace it). */
export interface NativeExecRunner {
  run(template: NativeExecTemplate, command: NativeExecCommand): Promise<ExecResult>;
  stop(): void;
}

export interface NativeExecOptions {
  /** Docker's inspect of the container (throws NotFoundError for an unknown one). */
  inspect: (containerId: string) => Promise<InspectFacts>;
  helper: NativeExecRunner;
  readProc?: ProcReader;
  /** /proc/<pid>/ns/user of a process (a link's text); the agent's is compared. */
  readUserNamespace?: (pid: number | 'self') => string | undefined;
  logger?: Logger;
}

const readProcFile: ProcReader = (path) => readFileSync(path, 'utf8');

interface CachedRoute {
  route: ExecRoute;
  /** The main process the answer was taken from. */
  identity: ProcessIdentity;
  native?: NativeExecTemplate;
}

/**
 * Exec through the native helper for containers that allow it, with the route (and
 * the main process's pid) cached per container ID. `exec` answers undefined when the
 * command must go through Docker instead.
 */
export class NativeExec {
  private readonly routes = new Map<string, CachedRoute>();
  private readonly readUserNamespace: (pid: number | 'self') => string | undefined;
  private readonly readProc: ProcReader;
  private readonly log: Logger;
  /** Set when the helper turned out to speak another protocol: Docker's exec runs everything from then on. */
  private refused = false;

  constructor(private readonly options: NativeExecOptions) {
    this.readProc = options.readProc ?? readProcFile;
    this.log = options.logger ?? silentLogger;
    this.readUserNamespace =
      options.readUserNamespace ??
      ((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/user`);
        } catch {
          return undefined;
        }
      });
  }

  /** False once the helper turned out to speak another protocol than the agent. */
  get enabled(): boolean {
    return !this.refused;
  }

  /** The result, or undefined when this exec is Docker's to run. */
  async exec(containerId: string, cmd: string[], options: ExecOptions): Promise<ExecResult | undefined> {
    if (this.refused || !isBatchExec(options)) return undefined;
    for (let attempt = 0; ; attempt++) {
      await this.route(containerId);
      const template = this.routes.get(containerId)?.native;
      if (!template) return undefined;
      try {
        return await this.options.helper.run(template, {
          argv: cmd,
          timeoutMs: options.timeoutMs ?? 0,
          maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
        });
      } catch (err) {
        if (err instanceof NativeExecProtocolError) {
          // Built from other sources than the agent: as good as not built, which is Docker's exec.
          if (!this.refused)
            this.log.warn({ err: err.message }, 'the native exec helper speaks another protocol; exec through Docker from now on (npm run build rebuilds it)');
          this.refused = true;
          this.routes.clear();
          this.options.helper.stop();
          return undefined;
        }
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
    const pid = inspect.State?.Running ? (inspect.State.Pid ?? 0) : 0;
    const proc = pid > 0 ? this.procFacts(pid) : undefined;
    let route = planExec(inspect, proc);
    let native: NativeExecTemplate | undefined;
    if (route.handler === 'native' && proc) {
      const plan = planNativeExec(route.target, this.nativeFacts(pid, proc));
      if ('template' in plan) native = plan.template;
      else route = { handler: 'docker', reason: plan.reason };
    }
    // Either answer holds as long as the main process does (the container's config never changes).
    const identity = route.handler === 'native' ? route.target : proc && identityOf(inspect.Id, pid, proc);
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
      status: proc.status,
      cgroup: proc.cgroup,
      mountinfo,
      sameUserNamespace: own !== undefined && own === this.readUserNamespace(pid),
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

/** The identity of a live main process of the container, when the facts show one. */
function identityOf(containerId: string, pid: number, proc: ProcFacts): ProcessIdentity | undefined {
  const startTime = parseStartTime(proc.stat);
  return startTime !== undefined && cgroupBelongsTo(proc.cgroup, containerId) ? { containerId, pid, startTime } : undefined;
}
