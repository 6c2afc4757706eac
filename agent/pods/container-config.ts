// One container of a pod as a CRI ContainerConfig, following kubelet's
// generateContainerConfig: environment (with the downward API and `$(VAR)`
// expansion), resources as cgroup numbers, the effective security context, the
// managed /etc/hosts mount and the labels a restarted agent rebuilds its view from.
// Pure: everything it needs comes in through the input.
import type { Container, EnvVar, Pod, Quantity } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import {
  LABEL_CONTAINER_HASH,
  LABEL_CONTAINER_KIND,
  LABEL_CONTAINER_NAME,
  LABEL_MANAGED,
  LABEL_NODE,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_SOURCE,
  LABEL_PRESTOP_HANDLER,
  LABEL_CONTAINER_PORTS,
  LABEL_POD_UID,
  LABEL_RESTART_COUNT,
  LABEL_TERMINATION_GRACE,
  LABEL_TERMINATION_MESSAGE_PATH,
  LABEL_TERMINATION_MESSAGE_POLICY,
} from '../runtime/labels.js';
import type { ContainerConfig, KeyValue, LinuxContainerResources, LinuxContainerSecurityContext, Mount } from '../runtime/runtime.js';
import { hashContainer } from './container-hash.js';
import { expand, lookupIn } from '../api/env-expansion.js';
import { CreateContainerConfigError } from '../api/pod-errors.js';
import { parseCPUToMilli, parseMemoryToBytes } from '../api/quantity.js';
import { resourceFieldValue, type NodeAllocatable } from '../api/resource-field-ref.js';
import { podNamespaces, terminationGracePeriodSeconds } from './sandbox-config.js';

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const DEFAULT_TERMINATION_MESSAGE_POLICY = 'File';
export const ETC_HOSTS_PATH = '/etc/hosts';

// kubelet's cgroup arithmetic (pkg/kubelet/cm): shares per core, the CFS period,
// and the floors/ceilings the kernel accepts.
const SHARES_PER_CPU = 1024;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const QUOTA_PERIOD_US = 100_000;
const MIN_QUOTA_US = 1_000;

/** Reads a ConfigMap's or Secret's (decoded) data by name; undefined when it does not exist. */
export type KeyValueSource = (name: string) => Record<string, string> | undefined;

export interface EnvironmentContext {
  podIP: string;
  hostIP: string;
  nodeName: string;
  /** Every pod IP (dual stack); defaults to [podIP]. */
  podIPs?: string[];
  /** Every node IP; defaults to [hostIP]. */
  hostIPs?: string[];
  nodeAllocatable?: NodeAllocatable;
  /** Absent in standalone mode: every ConfigMap and Secret is then "not found". */
  configMaps?: KeyValueSource;
  secrets?: KeyValueSource;
}

export interface ContainerConfigInput extends EnvironmentContext {
  pod: Pod;
  container: Container;
  kind: 'init' | 'regular';
  /** Attempt number = restart count the new container carries. */
  attempt: number;
  /** Host path of the pod's managed hosts file; mounted on /etc/hosts once the pod has an IP. */
  hostsFilePath?: string;
  podSource: string;
  config: Pick<NodeletConfiguration, 'containerLogMaxSize' | 'containerLogMaxFiles'>;
  /** The resolved image (ID or digest) the container runs. */
  imageRef: string;
  /** Mounts prepared by the volume layer and the worker (termination log), passed through. */
  mounts?: Mount[];
}

export function generateContainerConfig(input: ContainerConfigInput): ContainerConfig {
  const { pod, container } = input;
  const where = locate(pod, container);
  const envs = makeEnvironment(pod, container, input);
  const envMap = new Map(envs.map((e) => [e.key, e.value]));
  const expandAll = (list: string[] | undefined): string[] | undefined =>
    // An empty list means "not set": the image's entrypoint/cmd stays.
    list && list.length > 0 ? list.map((s) => expand(s, lookupIn(envMap))) : undefined;

  const config: ContainerConfig = {
    metadata: { name: container.name, attempt: input.attempt },
    image: input.imageRef,
    envs,
    mounts: containerMounts(input),
    labels: containerLabels(input),
    annotations: {},
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    resources: containerResources(container, where),
    securityContext: containerSecurityContext(pod, container, where),
    log: { maxSize: input.config.containerLogMaxSize, maxFiles: input.config.containerLogMaxFiles },
  };
  const command = expandAll(container.command);
  if (command) config.command = command;
  const args = expandAll(container.args);
  if (args) config.args = args;
  if (container.workingDir) config.workingDir = container.workingDir;
  if (container.lifecycle?.stopSignal) config.stopSignal = container.lifecycle.stopSignal;
  if (container.ports && container.ports.length > 0) {
    config.exposedPorts = container.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' }));
  }
  return config;
}

// ---------------------------------------------------------------------------
// Where a container sits in the pod, for error messages naming the field.

interface ContainerLocation {
  pod: string;
  container: string;
  /** `spec.containers[2]` or `spec.initContainers[0]`. */
  path: string;
}

function locate(pod: Pod, container: Container): ContainerLocation {
  const lists: Array<[string, Container[]]> = [
    ['spec.containers', pod.spec.containers],
    ['spec.initContainers', pod.spec.initContainers ?? []],
  ];
  let path: string | undefined;
  for (const [name, list] of lists) {
    const i = list.indexOf(container);
    if (i !== -1) {
      path = `${name}[${i}]`;
      break;
    }
  }
  if (path === undefined) {
    for (const [name, list] of lists) {
      const i = list.findIndex((c) => c.name === container.name);
      if (i !== -1) {
        path = `${name}[${i}]`;
        break;
      }
    }
  }
  return { pod: podKey(pod), container: container.name, path: path ?? `container "${container.name}"` };
}

function configError(where: ContainerLocation, field: string, detail: string, cause?: unknown): CreateContainerConfigError {
  return new CreateContainerConfigError(
    { pod: where.pod, container: where.container, field: `${where.path}.${field}`, detail },
    cause === undefined ? undefined : { cause },
  );
}

// ---------------------------------------------------------------------------
// Environment (kubelet's makeEnvironmentVariables).

/**
 * The container's environment: envFrom first, then env in order. A literal value
 * may reference variables defined before it (`$(NAME)`); values from valueFrom are
 * never expanded. A later definition of a name replaces the earlier value.
 */
export function makeEnvironment(pod: Pod, container: Container, ctx: EnvironmentContext): KeyValue[] {
  const where = locate(pod, container);
  const env = new Map<string, string>();

  (container.envFrom ?? []).forEach((source, i) => {
    for (const [key, value] of envFromSource(source, ctx, where, `envFrom[${i}]`)) env.set(key, value);
  });

  (container.env ?? []).forEach((v, i) => {
    if (v.valueFrom) {
      const value = valueFrom(pod, container, v, ctx, where, `env[${i}].valueFrom`);
      if (value !== undefined) env.set(v.name, value);
      return;
    }
    const raw = v.value ?? '';
    env.set(v.name, raw === '' ? raw : expand(raw, lookupIn(env)));
  });

  return [...env].map(([key, value]) => ({ key, value }));
}

function envFromSource(source: Record<string, unknown>, ctx: EnvironmentContext, where: ContainerLocation, field: string): Array<[string, string]> {
  const prefix = typeof source.prefix === 'string' ? source.prefix : '';
  const ref = (key: 'configMapRef' | 'secretRef') => {
    const r = source[key];
    if (r === undefined || r === null || typeof r !== 'object') return undefined;
    const { name, optional } = r as { name?: unknown; optional?: unknown };
    return { name: typeof name === 'string' ? name : '', optional: optional === true };
  };
  const cm = ref('configMapRef');
  const secret = ref('secretRef');
  const pick = cm
    ? { kind: 'configmap', ref: cm, lookup: ctx.configMaps, field: `${field}.configMapRef` }
    : secret
      ? { kind: 'secret', ref: secret, lookup: ctx.secrets, field: `${field}.secretRef` }
      : undefined;
  if (!pick) throw configError(where, field, 'must set configMapRef or secretRef');
  const data = pick.lookup?.(pick.ref.name);
  if (data === undefined) {
    if (pick.ref.optional) return [];
    throw configError(where, pick.field, `${pick.kind} "${pick.ref.name}" not found`);
  }
  // A key that cannot be a variable name (empty, or holding '=') is skipped, as kubelet does.
  return Object.entries(data)
    .map(([k, v]): [string, string] => [prefix + k, v])
    .filter(([k]) => k !== '' && !k.includes('='));
}

function valueFrom(pod: Pod, container: Container, v: EnvVar, ctx: EnvironmentContext, where: ContainerLocation, field: string): string | undefined {
  const from = v.valueFrom ?? {};
  if (from.fieldRef) {
    const value = fieldRefValue(pod, from.fieldRef, ctx);
    if (value instanceof Error) throw configError(where, `${field}.fieldRef.fieldPath`, value.message);
    return value;
  }
  if (from.resourceFieldRef) {
    try {
      return resourceFieldValue(pod, container, from.resourceFieldRef, ctx.nodeAllocatable);
    } catch (err) {
      throw configError(where, `${field}.resourceFieldRef`, (err as Error).message, err);
    }
  }
  if (from.configMapKeyRef) return keyRefValue('configmap', 'ConfigMap', from.configMapKeyRef, ctx.configMaps, pod, where, `${field}.configMapKeyRef`);
  if (from.secretKeyRef) return keyRefValue('secret', 'Secret', from.secretKeyRef, ctx.secrets, pod, where, `${field}.secretKeyRef`);
  throw configError(where, field, 'must set one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef');
}

/** undefined = an optional reference that is missing: the variable is left out. */
function keyRefValue(
  kind: string,
  kindName: string,
  ref: { name?: string; key: string; optional?: boolean },
  lookup: KeyValueSource | undefined,
  pod: Pod,
  where: ContainerLocation,
  field: string,
): string | undefined {
  const name = ref.name ?? '';
  const data = lookup?.(name);
  if (data === undefined) {
    if (ref.optional === true) return undefined;
    throw configError(where, field, `${kind} "${name}" not found`);
  }
  const value = data[ref.key];
  if (value === undefined) {
    if (ref.optional === true) return undefined;
    throw configError(where, field, `couldn't find key ${ref.key} in ${kindName} ${pod.metadata.namespace ?? 'default'}/${name}`);
  }
  return value;
}

/** The downward API's pod fields; an Error describes an unsupported path. */
function fieldRefValue(pod: Pod, ref: { fieldPath: string; apiVersion?: string }, ctx: EnvironmentContext): string | Error {
  if (ref.apiVersion !== undefined && ref.apiVersion !== '' && ref.apiVersion !== 'v1') {
    return new Error(`unsupported apiVersion "${ref.apiVersion}" (only v1)`);
  }
  const podIPs = ctx.podIPs && ctx.podIPs.length > 0 ? ctx.podIPs : ctx.podIP ? [ctx.podIP] : [];
  const hostIPs = ctx.hostIPs && ctx.hostIPs.length > 0 ? ctx.hostIPs : ctx.hostIP ? [ctx.hostIP] : [];
  const path = ref.fieldPath;
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    // A pod from a manifest may not name its node; it runs on this one.
    case 'spec.nodeName':
      return pod.spec.nodeName || ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return hostIPs[0] ?? '';
    case 'status.hostIPs':
      return hostIPs.join(',');
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
    default:
      break;
  }
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (subscript) {
    const map = subscript[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[subscript[2] ?? ''] ?? '';
  }
  return new Error(`unsupported field path "${path}" in an environment variable`);
}

// ---------------------------------------------------------------------------
// Resources (kubelet's calculateLinuxResources).

function containerResources(container: Container, where: ContainerLocation): LinuxContainerResources {
  const read = (kind: 'limits' | 'requests', name: string, parse: (q: Quantity) => number): number | undefined => {
    const q = container.resources?.[kind]?.[name];
    if (q === undefined) return undefined;
    let value: number;
    try {
      value = parse(q);
    } catch (err) {
      throw configError(where, `resources.${kind}.${name}`, (err as Error).message, err);
    }
    if (value < 0) throw configError(where, `resources.${kind}.${name}`, `must be non-negative, got "${String(q)}"`);
    return value;
  };
  const cpuLimit = read('limits', 'cpu', parseCPUToMilli) ?? 0;
  // A request left unset defaults to the limit, as the API server defaults it.
  const cpuRequest = read('requests', 'cpu', parseCPUToMilli) ?? cpuLimit;
  const memoryLimit = read('limits', 'memory', parseMemoryToBytes) ?? 0;
  // Not a cgroup setting, but a bad value is still the pod's error to report.
  read('requests', 'memory', parseMemoryToBytes);

  const out: LinuxContainerResources = {
    cpuShares: milliCPUToShares(cpuRequest === 0 && cpuLimit > 0 ? cpuLimit : cpuRequest),
  };
  if (cpuLimit > 0) {
    out.cpuPeriod = QUOTA_PERIOD_US;
    out.cpuQuota = milliCPUToQuota(cpuLimit, QUOTA_PERIOD_US);
  }
  if (memoryLimit > 0) out.memoryLimitInBytes = memoryLimit;
  return out;
}

/** CFS shares for a CPU request; no request still gets the kernel's minimum of 2. */
export function milliCPUToShares(milliCPU: number): number {
  if (milliCPU <= 0) return MIN_SHARES;
  const shares = Math.floor((milliCPU * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** CFS quota for a CPU limit over `period` µs; the kernel refuses less than 1 ms. */
export function milliCPUToQuota(milliCPU: number, period: number): number {
  if (milliCPU <= 0) return 0;
  return Math.max(MIN_QUOTA_US, Math.floor((milliCPU * period) / 1000));
}

// ---------------------------------------------------------------------------
// Security context (kubelet's determineEffectiveSecurityContext).

function containerSecurityContext(pod: Pod, container: Container, where: ContainerLocation): LinuxContainerSecurityContext {
  const podSC = pod.spec.securityContext ?? {};
  const sc = container.securityContext ?? {};
  const out: LinuxContainerSecurityContext = { namespaces: podNamespaces(pod) };

  // The container's own setting wins over the pod's.
  const runAsUser = sc.runAsUser ?? podSC.runAsUser;
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  const runAsGroup = sc.runAsGroup ?? podSC.runAsGroup;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if (sc.privileged === true) out.privileged = true;
  if (sc.readOnlyRootFilesystem === true) out.readonlyRootfs = true;

  const add = (sc.capabilities?.add ?? []).map(capabilityName);
  const drop = (sc.capabilities?.drop ?? []).map(capabilityName);
  if (sc.capabilities) out.capabilities = { add, drop };

  // allowPrivilegeEscalation defaults to true; only an explicit false sets no_new_privs.
  if (sc.allowPrivilegeEscalation === false) {
    // API validation rejects these combinations: no_new_privs cannot hold for a process
    // that is privileged or may mount things anyway.
    if (sc.privileged === true) {
      throw configError(where, 'securityContext.allowPrivilegeEscalation', 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true');
    }
    if (add.includes('SYS_ADMIN')) {
      throw configError(
        where,
        'securityContext.allowPrivilegeEscalation',
        'cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN',
      );
    }
    out.noNewPrivs = true;
  }

  // The container's profile wins over the pod's; neither means Unconfined (kubelet without --seccomp-default).
  const seccomp = sc.seccompProfile ?? podSC.seccompProfile;
  if (seccomp?.type === 'RuntimeDefault' || seccomp?.type === 'Unconfined') out.seccomp = { type: seccomp.type };
  else if (seccomp?.type === 'Localhost' && seccomp.localhostProfile) out.seccomp = { type: 'Localhost', localhostProfile: seccomp.localhostProfile };

  // fsGroup first, then supplementalGroups, as kubelet orders them.
  const groups = [...(podSC.fsGroup !== undefined ? [podSC.fsGroup] : []), ...(podSC.supplementalGroups ?? [])];
  if (groups.length > 0) out.supplementalGroups = [...new Set(groups)];
  return out;
}

/** "cap_net_admin" and "NET_ADMIN" name the same capability; the runtime gets the latter. */
function capabilityName(cap: string): string {
  return cap.toUpperCase().replace(/^CAP_/, '');
}

// ---------------------------------------------------------------------------
// Mounts and labels.

function containerMounts(input: ContainerConfigInput): Mount[] {
  const mounts = [...(input.mounts ?? [])];
  const normalize = (p: string) => p.replace(/\/+$/, '');
  const ownsEtcHosts =
    (input.container.volumeMounts ?? []).some((m) => normalize(m.mountPath) === ETC_HOSTS_PATH) ||
    mounts.some((m) => normalize(m.containerPath) === ETC_HOSTS_PATH);
  // kubelet mounts its managed hosts file for host-network pods too (the node's
  // file plus hostAliases), and only once the pod has an IP to write into it.
  if (input.hostsFilePath && input.podIP && !ownsEtcHosts) {
    mounts.push({ containerPath: ETC_HOSTS_PATH, hostPath: input.hostsFilePath, readonly: false });
  }
  return mounts;
}

function containerLabels(input: ContainerConfigInput): Record<string, string> {
  const { pod, container } = input;
  return {
    [LABEL_POD_NAME]: pod.metadata.name ?? '',
    [LABEL_POD_NAMESPACE]: pod.metadata.namespace ?? 'default',
    [LABEL_POD_UID]: pod.metadata.uid ?? '',
    [LABEL_CONTAINER_NAME]: container.name,
    [LABEL_MANAGED]: 'true',
    [LABEL_NODE]: input.nodeName,
    [LABEL_CONTAINER_HASH]: hashContainer(container),
    [LABEL_RESTART_COUNT]: String(input.attempt),
    [LABEL_TERMINATION_GRACE]: String(terminationGracePeriodSeconds(pod)),
    [LABEL_TERMINATION_MESSAGE_PATH]: container.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH,
    [LABEL_TERMINATION_MESSAGE_POLICY]: container.terminationMessagePolicy ?? DEFAULT_TERMINATION_MESSAGE_POLICY,
    [LABEL_CONTAINER_KIND]: input.kind,
    [LABEL_POD_SOURCE]: input.podSource,
    ...(container.lifecycle?.preStop
      ? {
          [LABEL_PRESTOP_HANDLER]: JSON.stringify(container.lifecycle.preStop),
          ...(container.ports?.length ? { [LABEL_CONTAINER_PORTS]: JSON.stringify(container.ports) } : {}),
        }
      : {}),
  };
}
