// Standalone endpoints: with no endpoint controller, the proxy plays its part on
// the agent's own pods, read from the agent's state directory (pod.json with the
// last computed status.json). It follows the EndpointSlice controller: a pod backs
// a Service when it is in the Service's namespace, carries every selector label,
// runs and has an IP; ready follows the pod's Ready condition, and a pod being
// deleted is terminating (serving while still Ready, never ready).
import type { Container, Pod } from '../../api/types.js';
import { PodStateStore } from '../../state/pod-state-store.js';
import { NODELET_SLICE_MANAGER } from './endpoints-to-model.js';
import { parseIPv4 } from './service-validation.js';
import {
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  type Endpoint,
  type EndpointPort,
  type EndpointSlice,
  type Protocol,
  type Service,
  type ServicePort,
} from './service-types.js';

/** Every pod the agent has state for (unreadable ones are skipped: the next read sees them). */
export function readLocalPods(rootDir: string): Pod[] {
  const store = new PodStateStore(rootDir);
  const pods: Pod[] = [];
  for (const uid of store.listPodUIDsSync()) {
    let pod: Pod | undefined;
    try {
      pod = store.loadPodSync(uid);
    } catch {
      continue; // a directory name that is not a pod UID
    }
    if (pod?.metadata) pods.push(pod);
  }
  return pods;
}

function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The pod's IPv4 address, if it has one. */
function podIPv4(pod: Pod): string | undefined {
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)];
  return ips.find((ip) => parseIPv4(ip) !== undefined);
}

function selects(selector: Record<string, string>, pod: Pod): boolean {
  const labels = pod.metadata.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * The pod port a Service port leads to: targetPort as a number, or the container
 * port of that name and protocol (app containers, then sidecars); default the
 * Service port itself. Undefined when a named port is not in this pod.
 */
export function resolveTargetPort(port: ServicePort, pod: Pod): number | undefined {
  const target = port.targetPort;
  if (target === undefined || target === 0 || target === '') return port.port;
  if (typeof target === 'number') return target;
  const protocol = port.protocol ?? 'TCP';
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  const containers: Container[] = [...(pod.spec?.containers ?? []), ...sidecars];
  for (const c of containers) {
    for (const cp of c.ports ?? []) {
      if (cp.name === target && (cp.protocol ?? 'TCP') === protocol) return cp.containerPort;
    }
  }
  return undefined;
}

function podKeyOf(pod: Pod): string {
  return `${pod.metadata.namespace || 'default'}/${pod.metadata.name ?? ''}`;
}

/**
 * The EndpointSlices the endpoint controller would make for a Service from these
 * pods (all on node `nodeName`): pods whose named target ports resolve to the
 * same numbers share a slice. Empty for a Service without a selector.
 */
export function slicesForService(svc: Service, pods: Pod[], nodeName: string): EndpointSlice[] {
  const selector = svc.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) return [];
  const namespace = svc.metadata.namespace || 'default';
  const name = svc.metadata.name ?? '';
  const publishNotReady = svc.spec.publishNotReadyAddresses === true;
  const servicePorts = svc.spec.ports ?? [];

  const groups = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }>();
  const candidates = pods
    .filter((pod) => (pod.metadata.namespace || 'default') === namespace && selects(selector, pod))
    .filter((pod) => pod.status?.phase === 'Running')
    .sort((a, b) => podKeyOf(a).localeCompare(podKeyOf(b)));
  for (const pod of candidates) {
    const ip = podIPv4(pod);
    if (ip === undefined) continue;
    const ports: EndpointPort[] = [];
    for (const sp of servicePorts) {
      const port = resolveTargetPort(sp, pod);
      if (port !== undefined) ports.push({ name: sp.name ?? '', protocol: (sp.protocol ?? 'TCP') as Protocol, port });
    }
    if (servicePorts.length > 0 && ports.length === 0) continue;

    const podReady = isPodReady(pod);
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const endpoint: Endpoint = {
      addresses: [ip],
      conditions: { ready: (publishNotReady || podReady) && (publishNotReady || !terminating), serving: podReady, terminating },
      nodeName,
      targetRef: { kind: 'Pod', namespace, name: pod.metadata.name ?? '', ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
    };
    const signature = JSON.stringify(ports);
    const group = groups.get(signature);
    if (group) group.endpoints.push(endpoint);
    else groups.set(signature, { ports, endpoints: [endpoint] });
  }

  return [...groups.values()].map(
    (group, i): EndpointSlice => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-local-${i}`,
        namespace,
        labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: NODELET_SLICE_MANAGER },
      },
      addressType: 'IPv4',
      endpoints: group.endpoints,
      ports: group.ports,
    }),
  );
}

/** The EndpointSlices of all these Services from the agent's pods under rootDir. */
export function localPodEndpoints(rootDir: string, nodeName: string, services: Service[]): EndpointSlice[] {
  const pods = readLocalPods(rootDir);
  return services.flatMap((svc) => slicesForService(svc, pods, nodeName));
}
