// Docker's inspect and list JSON → CRI statuses and summaries. Pure. Metadata comes
// from the labels the agent set, with the container name as the fallback and the
// only source of the attempt.
import type Docker from 'dockerode';
import { LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from '../labels.js';
import type {
  ContainerMetadata,
  ContainerState,
  ContainerStatus,
  ContainerSummary,
  Mount,
  PodSandboxMetadata,
  PodSandboxStatus,
  PodSandboxSummary,
} from '../runtime.js';
import { LABEL_SANDBOX_ID, splitAnnotationLabels } from './docker-labels.js';
import { parseContainerName } from './names.js';

/** Docker writes Go's zero time for "never": 0001-01-01T00:00:00Z. */
export function parseDockerTime(value: string | undefined | null): Date | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Docker states → CRI states. A paused or restarting container still has its process. */
export function containerState(dockerState: string | undefined): ContainerState {
  switch (dockerState) {
    case 'created':
      return 'created';
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'exited':
    case 'dead':
    case 'removing':
      return 'exited';
    default:
      return 'unknown';
  }
}

/** Why a container exited, in the words kubelet's terminated state uses. */
export function exitReason(exitCode: number, oomKilled: boolean): string {
  if (oomKilled) return 'OOMKilled';
  return exitCode === 0 ? 'Completed' : 'Error';
}

function sandboxMetadata(labels: Record<string, string>, dockerName: string): PodSandboxMetadata {
  const parsed = parseContainerName(dockerName);
  return {
    name: labels[LABEL_POD_NAME] ?? parsed?.pod.name ?? '',
    namespace: labels[LABEL_POD_NAMESPACE] ?? parsed?.pod.namespace ?? '',
    uid: labels[LABEL_POD_UID] ?? parsed?.pod.uid ?? '',
    attempt: parsed?.attempt ?? 0,
  };
}

function containerMetadata(labels: Record<string, string>, dockerName: string): ContainerMetadata {
  const parsed = parseContainerName(dockerName);
  const fromName = parsed?.kind === 'container' ? parsed.containerName : undefined;
  return { name: labels[LABEL_CONTAINER_NAME] ?? fromName ?? '', attempt: parsed?.attempt ?? 0 };
}

function propagationOf(dockerPropagation: string | undefined): Mount['propagation'] {
  if (dockerPropagation === 'rslave' || dockerPropagation === 'slave') return 'rslave';
  if (dockerPropagation === 'rshared' || dockerPropagation === 'shared') return 'rshared';
  // Docker's default (rprivate) is reported as "not set", so a config round-trips.
  return undefined;
}

function mountsOf(info: Docker.ContainerInspectInfo): Mount[] {
  return (info.Mounts ?? [])
    .filter((m) => m.Type === 'bind')
    .map((m) => {
      const mount: Mount = { containerPath: m.Destination, hostPath: m.Source, readonly: !m.RW };
      const propagation = propagationOf(m.Propagation);
      if (propagation) mount.propagation = propagation;
      return mount;
    });
}

export function containerStatusFromInspect(info: Docker.ContainerInspectInfo): ContainerStatus {
  const { labels, annotations } = splitAnnotationLabels(info.Config?.Labels);
  const state = containerState(info.State?.Status);
  const status: ContainerStatus = {
    id: info.Id,
    podSandboxId: labels[LABEL_SANDBOX_ID] ?? '',
    metadata: containerMetadata(labels, info.Name),
    image: info.Config?.Image ?? '',
    imageRef: info.Image,
    state,
    createdAt: parseDockerTime(info.Created) ?? new Date(0),
    labels,
    annotations,
    mounts: mountsOf(info),
  };
  const startedAt = parseDockerTime(info.State?.StartedAt);
  if (startedAt) status.startedAt = startedAt;
  if (state === 'exited') {
    const finishedAt = parseDockerTime(info.State?.FinishedAt);
    if (finishedAt) status.finishedAt = finishedAt;
    status.exitCode = info.State?.ExitCode ?? 0;
    status.reason = exitReason(status.exitCode, info.State?.OOMKilled === true);
  }
  // A failed start leaves its cause here (e.g. "exec: \"x\": executable file not found").
  if (info.State?.Error) status.message = info.State.Error;
  if (info.State?.Pid) status.pid = info.State.Pid;
  if (info.LogPath) status.logPath = info.LogPath;
  return status;
}

/** The pod IP: the first network that gave the sandbox an address; none with host networking. */
function sandboxIP(info: Docker.ContainerInspectInfo, hostNetwork: boolean): string {
  if (hostNetwork) return '';
  for (const network of Object.values(info.NetworkSettings?.Networks ?? {})) {
    if (network?.IPAddress) return network.IPAddress;
  }
  return '';
}

export function sandboxStatusFromInspect(info: Docker.ContainerInspectInfo): PodSandboxStatus {
  const { labels, annotations } = splitAnnotationLabels(info.Config?.Labels);
  const hostNetwork = info.HostConfig?.NetworkMode === 'host';
  const status: PodSandboxStatus = {
    id: info.Id,
    metadata: sandboxMetadata(labels, info.Name),
    state: info.State?.Running ? 'ready' : 'notready',
    createdAt: parseDockerTime(info.Created) ?? new Date(0),
    ip: sandboxIP(info, hostNetwork),
    labels,
    annotations,
    hostNetwork,
  };
  if (info.HostsPath) status.hostsPath = info.HostsPath;
  if (info.ResolvConfPath) status.resolvConfPath = info.ResolvConfPath;
  return status;
}

/** `docker ps -a` rows carry names with a leading '/' and `Created` in Unix seconds. */
function listedName(info: Docker.ContainerInfo): string {
  return info.Names?.[0] ?? '';
}

export function containerSummaryFromList(info: Docker.ContainerInfo): ContainerSummary {
  const { labels, annotations } = splitAnnotationLabels(info.Labels);
  return {
    id: info.Id,
    podSandboxId: labels[LABEL_SANDBOX_ID] ?? '',
    metadata: containerMetadata(labels, listedName(info)),
    image: info.Image,
    imageRef: info.ImageID,
    state: containerState(info.State),
    createdAt: new Date(info.Created * 1000),
    labels,
    annotations,
  };
}

export function sandboxSummaryFromList(info: Docker.ContainerInfo): PodSandboxSummary {
  const { labels, annotations } = splitAnnotationLabels(info.Labels);
  return {
    id: info.Id,
    metadata: sandboxMetadata(labels, listedName(info)),
    state: info.State === 'running' ? 'ready' : 'notready',
    createdAt: new Date(info.Created * 1000),
    labels,
    annotations,
  };
}
