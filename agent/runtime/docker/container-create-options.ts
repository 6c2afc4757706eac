// ContainerConfig → Docker create options for one app container joining its sandbox.
// Pure. Kubernetes `command` is Docker's Entrypoint and `args` its Cmd. Never sets
// Ulimits: this host cannot raise rlimits above its own hard limits.
import type Docker from 'dockerode';
import { CreateContainerError } from '../errors.js';
import { LABEL_TYPE, TYPE_CONTAINER } from '../labels.js';
import type { ContainerConfig, LinuxContainerSecurityContext, Mount, PodSandboxConfig } from '../runtime.js';
import { jsonFileLogConfig, noHealthcheck, noRestartPolicy } from './create-options-common.js';
import { LABEL_SANDBOX_ID, mergeAnnotationsIntoLabels } from './docker-labels.js';
import { containerName } from './names.js';
import type { DockerCreateOptions } from './sandbox-create-options.js';

function nonEmpty(list: string[] | undefined): list is string[] {
  return list !== undefined && list.length > 0;
}

/**
 * Kubernetes: `command` replaces the image's ENTRYPOINT and drops its CMD; `args`
 * replaces CMD; neither keeps both. An empty list counts as not set.
 */
export function entrypointAndCmd(command: string[] | undefined, args: string[] | undefined): { Entrypoint?: string[]; Cmd?: string[] } {
  const out: { Entrypoint?: string[]; Cmd?: string[] } = {};
  if (nonEmpty(command)) {
    out.Entrypoint = [...command];
    out.Cmd = nonEmpty(args) ? [...args] : [];
  } else if (nonEmpty(args)) {
    out.Cmd = [...args];
  }
  return out;
}

/** Docker's `User`: uid[:gid]. A group alone cannot be expressed (dockershim refused it too). */
export function dockerUser(sc: LinuxContainerSecurityContext, container: string): string | undefined {
  if (sc.runAsUser === undefined) {
    if (sc.runAsGroup !== undefined) {
      throw new CreateContainerError(`container "${container}": securityContext.runAsGroup is set without runAsUser, which Docker cannot apply`);
    }
    return undefined;
  }
  return sc.runAsGroup === undefined ? String(sc.runAsUser) : `${sc.runAsUser}:${sc.runAsGroup}`;
}

/** One `host:container[:ro][,rslave|rshared]` bind. Docker creates a missing host directory for a bind. */
export function dockerBind(mount: Mount, container: string): string {
  for (const [field, path] of [
    ['hostPath', mount.hostPath],
    ['containerPath', mount.containerPath],
  ] as const) {
    if (!path.startsWith('/')) throw new CreateContainerError(`container "${container}": mount ${field} "${path}" must be an absolute path`);
    // Docker splits a bind at ':'; a path holding one would be read as other fields.
    if (path.includes(':')) throw new CreateContainerError(`container "${container}": mount ${field} "${path}" contains ':', which Docker cannot bind`);
  }
  const options: string[] = [];
  if (mount.readonly) options.push('ro');
  if (mount.propagation === 'rslave' || mount.propagation === 'rshared') options.push(mount.propagation);
  return options.length > 0 ? `${mount.hostPath}:${mount.containerPath}:${options.join(',')}` : `${mount.hostPath}:${mount.containerPath}`;
}

function resourceOptions(config: ContainerConfig, host: Docker.HostConfig): void {
  const r = config.resources;
  if (r.memoryLimitInBytes !== undefined && r.memoryLimitInBytes > 0) {
    host.Memory = r.memoryLimitInBytes;
    // Swap equal to the limit means no swap on top: the limit is the limit.
    host.MemorySwap = r.memoryLimitInBytes;
  }
  if (r.cpuQuota !== undefined && r.cpuQuota > 0) host.CpuQuota = r.cpuQuota;
  if (r.cpuPeriod !== undefined && r.cpuPeriod > 0) host.CpuPeriod = r.cpuPeriod;
  if (r.cpuShares !== undefined && r.cpuShares > 0) host.CpuShares = r.cpuShares;
}

/**
 * Docker's seccomp option for the container: Unconfined unless asked otherwise (as
 * kubelet without --seccomp-default); RuntimeDefault is Docker's own default
 * profile; Localhost passes the profile's JSON, which the caller read.
 */
export function seccompSecurityOpt(seccomp: LinuxContainerSecurityContext['seccomp'], localhostProfileJson?: string): string | undefined {
  switch (seccomp?.type) {
    case undefined:
    case 'Unconfined':
      return 'seccomp=unconfined';
    case 'RuntimeDefault':
      return undefined;
    case 'Localhost':
      if (localhostProfileJson === undefined) throw new CreateContainerError(`seccomp profile "${seccomp.localhostProfile}" was not read`);
      return `seccomp=${localhostProfileJson}`;
  }
}

function securityOptions(config: ContainerConfig, host: Docker.HostConfig, localhostProfileJson?: string): void {
  const sc = config.securityContext;
  if (sc.privileged) host.Privileged = true;
  if (sc.readonlyRootfs) host.ReadonlyRootfs = true;
  if (sc.capabilities && sc.capabilities.add.length > 0) host.CapAdd = [...sc.capabilities.add];
  if (sc.capabilities && sc.capabilities.drop.length > 0) host.CapDrop = [...sc.capabilities.drop];
  const opts = [...(sc.noNewPrivs ? ['no-new-privileges'] : [])];
  // A privileged container has no seccomp filter whatever is asked (Docker ignores the option).
  const seccomp = sc.privileged ? undefined : seccompSecurityOpt(sc.seccomp, localhostProfileJson);
  if (seccomp) opts.push(seccomp);
  if (opts.length > 0) host.SecurityOpt = opts;
  if (sc.supplementalGroups && sc.supplementalGroups.length > 0) host.GroupAdd = sc.supplementalGroups.map(String);
}

function namespaceOptions(sandboxId: string, sc: LinuxContainerSecurityContext, host: Docker.HostConfig): void {
  const ofSandbox = `container:${sandboxId}`;
  if (sc.namespaces.network === 'NODE') {
    host.NetworkMode = 'host';
    host.UTSMode = 'host';
  } else {
    // Docker then also hands the container the sandbox's hostname, hosts and resolv.conf.
    host.NetworkMode = ofSandbox;
  }
  if (sc.namespaces.ipc === 'NODE') host.IpcMode = 'host';
  else if (sc.namespaces.ipc === 'POD') host.IpcMode = ofSandbox;
  if (sc.namespaces.pid === 'NODE') host.PidMode = 'host';
  else if (sc.namespaces.pid === 'POD') host.PidMode = ofSandbox;
}

export function containerCreateOptions(
  sandboxId: string,
  config: ContainerConfig,
  sandbox: PodSandboxConfig,
  localhostProfileJson?: string,
): DockerCreateOptions {
  const name = config.metadata.name;
  const host: Docker.HostConfig = {
    RestartPolicy: noRestartPolicy(),
    LogConfig: config.log ? jsonFileLogConfig(config.log.maxSize, config.log.maxFiles) : jsonFileLogConfig(),
  };
  namespaceOptions(sandboxId, config.securityContext, host);
  if (config.mounts.length > 0) host.Binds = config.mounts.map((m) => dockerBind(m, name));
  resourceOptions(config, host);
  securityOptions(config, host, localhostProfileJson);

  const options: DockerCreateOptions = {
    name: containerName(config.metadata, sandbox.metadata),
    Image: config.image,
    ...entrypointAndCmd(config.command, config.args),
    Env: config.envs.map(({ key, value }) => `${key}=${value}`),
    Labels: {
      ...mergeAnnotationsIntoLabels(config.labels, config.annotations),
      [LABEL_TYPE]: TYPE_CONTAINER,
      [LABEL_SANDBOX_ID]: sandboxId,
    },
    Tty: config.tty,
    OpenStdin: config.stdin,
    StdinOnce: config.stdinOnce,
    Healthcheck: noHealthcheck(),
    HostConfig: host,
  };
  // No ExposedPorts: Docker refuses them with a container: network mode, and the
  // pod's published ports live on the sandbox anyway.
  if (config.workingDir) options.WorkingDir = config.workingDir;
  const user = dockerUser(config.securityContext, name);
  if (user !== undefined) options.User = user;
  if (config.stopSignal) options.StopSignal = config.stopSignal;
  return options;
}
