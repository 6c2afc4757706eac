// A pod's sandbox (the pause container holding its namespaces), as kubelet's
// generatePodSandboxConfig describes it to a CRI runtime. Pure: same pod, same config.
import type { Pod } from '../api/types.js';
import { truncateHostname } from '../network/hosts-file.js';
import { LABEL_MANAGED, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_SOURCE, LABEL_POD_UID, LABEL_TERMINATION_GRACE } from '../runtime/labels.js';
import type { DNSConfig, NamespaceMode, PodSandboxConfig, PortMapping } from '../runtime/runtime.js';

export interface SandboxConfigInput {
  pod: Pod;
  attempt: number;
  nodeName: string;
  podSource: string;
  networkName: string;
  /** Image of the pause container. */
  image: string;
  dns?: DNSConfig;
}

/** kubelet's default terminationGracePeriodSeconds (the API server's default). */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

export function generateSandboxConfig(input: SandboxConfigInput): PodSandboxConfig {
  const { pod } = input;
  const config: PodSandboxConfig = {
    metadata: {
      name: pod.metadata.name ?? '',
      namespace: pod.metadata.namespace ?? 'default',
      uid: pod.metadata.uid ?? '',
      attempt: input.attempt,
    },
    hostname: podHostname(pod),
    portMappings: hostPortMappings(pod),
    labels: sandboxLabels(input),
    annotations: { ...pod.metadata.annotations },
    networkName: input.networkName,
    namespaces: podNamespaces(pod),
    image: input.image,
  };
  if (input.dns) config.dns = input.dns;
  const sysctls = podSysctls(pod);
  if (sysctls) config.sysctls = sysctls;
  return config;
}

/**
 * The pod's hostname: spec.hostname, else the pod name, cut to 63 characters.
 * Empty for a host-network pod, which keeps the node's hostname.
 */
export function podHostname(pod: Pod): string {
  if (pod.spec.hostNetwork === true) return '';
  return truncateHostname(pod.spec.hostname || pod.metadata.name || '');
}

/** Namespaces of the sandbox and of every container in it (kubelet's namespacesForPod). */
export function podNamespaces(pod: Pod): { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode } {
  const spec = pod.spec;
  return {
    network: spec.hostNetwork === true ? 'NODE' : 'POD',
    pid: spec.hostPID === true ? 'NODE' : spec.shareProcessNamespace === true ? 'POD' : 'CONTAINER',
    ipc: spec.hostIPC === true ? 'NODE' : 'POD',
  };
}

export function terminationGracePeriodSeconds(pod: Pod): number {
  return pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
}

function sandboxLabels(input: SandboxConfigInput): Record<string, string> {
  const { pod } = input;
  // The pod's own labels first (kubelet copies them onto the sandbox), then ours,
  // so a pod label can never pose as another pod or another node.
  return {
    ...pod.metadata.labels,
    [LABEL_POD_NAME]: pod.metadata.name ?? '',
    [LABEL_POD_NAMESPACE]: pod.metadata.namespace ?? 'default',
    [LABEL_POD_UID]: pod.metadata.uid ?? '',
    [LABEL_MANAGED]: 'true',
    [LABEL_NODE]: input.nodeName,
    [LABEL_TERMINATION_GRACE]: String(terminationGracePeriodSeconds(pod)),
    [LABEL_POD_SOURCE]: input.podSource,
  };
}

/**
 * Ports published on the node. Only regular containers' ports count (as in
 * kubelet), and only those with a hostPort: the rest are reachable on the pod IP.
 */
function hostPortMappings(pod: Pod): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const container of pod.spec.containers) {
    for (const port of container.ports ?? []) {
      if (!port.hostPort || port.hostPort <= 0) continue;
      const mapping: PortMapping = {
        protocol: port.protocol ?? 'TCP',
        containerPort: port.containerPort,
        hostPort: port.hostPort,
      };
      if (port.hostIP) mapping.hostIp = port.hostIP;
      mappings.push(mapping);
    }
  }
  return mappings;
}

/** Pod sysctls, with slash-separated names turned into the dotted form the runtime expects. */
function podSysctls(pod: Pod): Record<string, string> | undefined {
  const list = pod.spec.securityContext?.sysctls;
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const { name, value } of list) out[sysctlToDots(name)] = value;
  return out;
}

/**
 * "net/ipv4/conf/eth0.100/rp_filter" names the same key as
 * "net.ipv4.conf.eth0/100.rp_filter": when the first separator is a slash, dots and
 * slashes swap roles (kubelet's ConvertSysctlVariableToDotsSeparator).
 */
export function sysctlToDots(name: string): string {
  const first = name.search(/[./]/);
  if (first === -1 || name[first] === '.') return name;
  return name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}
