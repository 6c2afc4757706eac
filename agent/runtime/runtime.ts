// The CRI-shaped seam between the agent and a container engine. Everything above
// this interface speaks in sandboxes and containers; only implementations under
// agent/runtime know which engine does the work (Docker is the first).
import type { Readable } from 'node:stream';

export interface PodSandboxMetadata {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

/** Which namespace a container shares: the pod's (sandbox), its own, or the node's. */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE';

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname: string;
  /** Contents of /etc/resolv.conf; undefined keeps the engine's default. */
  dns?: DNSConfig;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Engine network the sandbox joins; ignored when network is NODE (hostNetwork). */
  networkName: string;
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode };
  sysctls?: Record<string, string>;
  /** Image of the sandbox (pause) container. */
  image: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation?: 'private' | 'rslave' | 'rshared';
}

export interface LinuxContainerResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
}

export interface LinuxContainerSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  privileged?: boolean;
  readonlyRootfs?: boolean;
  capabilities?: { add: string[]; drop: string[] };
  noNewPrivs?: boolean;
  supplementalGroups?: number[];
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode };
  /** Absent: Unconfined, as kubelet's default (seccompDefault false). */
  seccomp?: { type: 'RuntimeDefault' } | { type: 'Unconfined' } | { type: 'Localhost'; localhostProfile: string };
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: string;
  /** Overrides the image's entrypoint (Kubernetes `command`); undefined keeps the image's. */
  command?: string[];
  /** Overrides the image's cmd (Kubernetes `args`); undefined keeps the image's. */
  args?: string[];
  workingDir?: string;
  envs: KeyValue[];
  mounts: Mount[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  resources: LinuxContainerResources;
  securityContext: LinuxContainerSecurityContext;
  stopSignal?: string;
  /** Ports the container declares (informational for the engine). */
  exposedPorts?: Array<{ containerPort: number; protocol: string }>;
  log?: { maxSize: string; maxFiles: number };
}

export type SandboxState = 'ready' | 'notready';

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: Date;
  /** The pod IP; empty for host-network sandboxes (the node's IP applies). */
  ip: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostNetwork: boolean;
  /** Host paths the engine keeps for the sandbox's network files. */
  hostsPath?: string;
  resolvConfPath?: string;
}

export type PodSandboxSummary = Omit<PodSandboxStatus, 'ip' | 'hostsPath' | 'resolvConfPath' | 'hostNetwork'>;

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerSummary {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  image: string;
  imageRef: string;
  state: ContainerState;
  createdAt: Date;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus extends ContainerSummary {
  startedAt?: Date;
  finishedAt?: Date;
  exitCode?: number;
  /** Engine-level reason: 'OOMKilled', 'Error', 'Completed'. */
  reason?: string;
  message?: string;
  pid?: number;
  mounts: Mount[];
  /** Host path of the container's log file, when the engine keeps one. */
  logPath?: string;
}

export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  /** Image config that matters to the agent. */
  user?: string;
  stopSignal?: string;
}

export interface ExecOptions {
  /** Killed (and counted as a timeout) after this many ms; 0 = no limit. */
  timeoutMs?: number;
  stdin?: Buffer | string;
  tty?: boolean;
  /** Cap on captured output per stream, in bytes. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface LogOptions {
  follow?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
  signal?: AbortSignal;
}

export interface ContainerStats {
  timestamp: Date;
  cpuUsageCoreNanoSeconds: number;
  memoryWorkingSetBytes: number;
  memoryUsageBytes: number;
}

export interface RuntimeEvent {
  kind: 'sandbox' | 'container';
  id: string;
  action: string;
  labels: Record<string, string>;
  time: Date;
}

export interface RuntimeVersion {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface LabelFilter {
  labels?: Record<string, string>;
}

/**
 * How an engine runs bounded, non-interactive execs (probes, hooks), as configured
 * (NodeletConfiguration.execHandler); each engine says what the values come to.
 */
export type ExecHandler = 'auto' | 'native' | 'docker';

/** A container engine, in CRI's terms. */
export interface Runtime {
  /** The scheme of this engine's container IDs in the API (`<runtimeType>://<id>`), as kubelet's Runtime.Type(). */
  readonly runtimeType: string;
  version(): Promise<RuntimeVersion>;

  runPodSandbox(config: PodSandboxConfig): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<PodSandboxStatus>;
  listPodSandboxes(filter?: LabelFilter): Promise<PodSandboxSummary[]>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandbox: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, waits up to timeoutSeconds, then kills. */
  stopContainer(id: string, timeoutSeconds: number, signal?: string): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: LabelFilter & { podSandboxId?: string }): Promise<ContainerSummary[]>;
  containerStatus(id: string): Promise<ContainerStatus>;

  imageStatus(ref: string): Promise<ImageInfo | undefined>;
  pullImage(ref: string, signal?: AbortSignal): Promise<ImageInfo>;
  removeImage(ref: string): Promise<void>;
  listImages(): Promise<ImageInfo[]>;

  exec(containerId: string, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  logs(containerId: string, options?: LogOptions): Promise<Readable>;
  stats(containerId: string): Promise<ContainerStats>;
  /** Engine events until the signal aborts; reconnects are the caller's job. */
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>;
}
