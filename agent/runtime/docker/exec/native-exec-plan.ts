// Whether the native exec helper can confine a command exactly as runc confined the
// container's main process, and with what: its capability bounding set,
// no_new_privs, and cgroup.procs files. Anything it cannot reproduce (a seccomp
// filter, an LSM label, a user namespace of its own, a cgroup it cannot place)
// sends the container's execs through Docker instead. Pure: the caller reads /proc.
import { posix } from 'node:path';
import type { NativeExecTemplate } from './native-exec-protocol.js';
import type { ExecTarget } from './exec-target.js';

/** What the plan reads about the main process and the host, as text. */
export interface NativeExecFacts {
  /** /proc/<pid>/status */
  status: string;
  /** /proc/<pid>/cgroup */
  cgroup: string;
  /** /proc/self/mountinfo of the agent (host paths of the cgroup hierarchies). */
  mountinfo: string;
  /** /proc/<pid>/attr/current; undefined when the kernel has no LSM that labels processes. */
  lsmLabel?: string;
  /** Whether the main process shares the agent's user namespace. */
  sameUserNamespace: boolean;
}

export type NativeExecPlan = { template: NativeExecTemplate } | { reason: string };

interface Confinement {
  capBounding: bigint;
  noNewPrivs: boolean;
  seccomp: number;
}

export function parseConfinement(status: string): Confinement | undefined {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
  const bnd = field('CapBnd');
  const nnp = field('NoNewPrivs');
  const seccomp = field('Seccomp');
  if (!bnd || !/^[0-9a-f]{1,16}$/i.test(bnd) || nnp === undefined) return undefined;
  return { capBounding: BigInt(`0x${bnd}`), noNewPrivs: nnp === '1', seccomp: seccomp === undefined ? 0 : Number(seccomp) };
}

interface CgroupMount {
  /** The hierarchy's root as seen from this mount. */
  root: string;
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** Controllers (and `name=…`) of a v1 hierarchy. */
  controllers: Set<string>;
}

/** Mountinfo's escapes (\040 for a space, …). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fields = line.slice(0, dash).split(' ');
    const [fsType, , superOptions = ''] = line.slice(dash + 3).split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const controllers = new Set(
      superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('xattr') && o !== 'nsdelegate' && o !== 'memory_recursiveprot'),
    );
    mounts.push({ root: unescapeMountPath(fields[3] ?? '/'), mountPoint: unescapeMountPath(fields[4] ?? ''), fsType, controllers });
  }
  return mounts;
}

/**
 * The host path of each cgroup.procs the main process is in, one per hierarchy
 * (cgroup v1 lines "N:ctrl,ctrl:/path", v2 "0::/path"); undefined when a hierarchy
 * is not mounted where the agent can reach it, or a path would leave its mount.
 */
export function cgroupProcsPaths(procCgroup: string, mountinfo: string): string[] | undefined {
  const mounts = cgroupMounts(mountinfo);
  const paths: string[] = [];
  for (const line of procCgroup.split('\n')) {
    if (!line) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) return undefined;
    const controllerList = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    const wanted = controllerList === '' ? [] : controllerList.split(',');
    const mount =
      wanted.length === 0 ? mounts.find((m) => m.fsType === 'cgroup2') : mounts.find((m) => m.fsType === 'cgroup' && wanted.every((c) => m.controllers.has(c)));
    // A v1 controller nobody mounted (as rdma often is) holds no limits to join.
    if (!mount) {
      if (wanted.length === 0) return undefined;
      continue;
    }
    const root = mount.root === '/' ? '' : mount.root;
    if (root && path !== root && !path.startsWith(`${root}/`)) return undefined;
    const full = posix.normalize(posix.join(mount.mountPoint, path.slice(root.length), 'cgroup.procs'));
    if (!full.startsWith(`${mount.mountPoint}/`)) return undefined;
    if (!paths.includes(full)) paths.push(full);
  }
  return paths.length > 0 ? paths : undefined;
}

/** The native helper's request template for a container whose exec it may serve, or why it cannot. */
export function planNativeExec(target: ExecTarget, facts: NativeExecFacts): NativeExecPlan {
  const confinement = parseConfinement(facts.status);
  if (!confinement) return { reason: 'its main process shows no capability set' };
  if (confinement.seccomp !== 0) return { reason: 'it runs under a seccomp filter, which only runc applies' };
  if (facts.lsmLabel !== undefined && facts.lsmLabel !== '' && facts.lsmLabel !== 'unconfined') {
    return { reason: `it runs under the LSM label "${facts.lsmLabel}"` };
  }
  if (!facts.sameUserNamespace) return { reason: 'it runs in a user namespace of its own' };
  const cgroupProcs = cgroupProcsPaths(facts.cgroup, facts.mountinfo);
  if (!cgroupProcs?.every((p) => p.includes(target.containerId))) {
    return { reason: 'its cgroups cannot be placed from the host' };
  }
  return {
    template: {
      pid: target.pid,
      startTime: target.startTime,
      uid: target.credentials.uid,
      gid: target.credentials.gid,
      groups: target.credentials.groups,
      capBounding: confinement.capBounding,
      noNewPrivs: confinement.noNewPrivs,
      cgroupProcs,
      workingDir: target.workingDir,
      env: target.env,
    },
  };
}
