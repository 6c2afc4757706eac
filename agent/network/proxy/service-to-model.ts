// A Service becomes one ServicePortInfo per port, defaulted as the apiserver
// defaults it. Endpoints are attached separately (endpoints-to-model.ts), so a
// change of endpoints never needs the Service again.
import type { ProxyState, ServicePortInfo, ServiceProtocol } from './service-model.js';
import { serviceKey } from './service-model.js';
import { attachEndpoints, type EndpointLog } from './endpoints-to-model.js';
import { isAllocatableIP, parseIPv4, parseServiceCIDR, validateService, type ServiceValidationOptions } from './service-validation.js';
import { serviceKeyOf, sliceServiceKey, type EndpointSlice, type Service } from './service-types.js';

/** kube-apiserver's default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/**
 * The IPv4 ClusterIP the proxy programs for a Service: clusterIP, or the first IPv4
 * address of clusterIPs (a dual-stack Service whose primary family is IPv6).
 * "None" for headless Services, undefined when none is set yet.
 */
export function serviceClusterIPv4(svc: Service): string | undefined {
  const spec = svc.spec ?? {};
  const candidates = [spec.clusterIP, ...(spec.clusterIPs ?? [])].filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  if (candidates[0] === 'None') return 'None';
  return candidates.find((ip) => parseIPv4(ip) !== undefined);
}

/** LoadBalancer, NodePort, or ClusterIP with externalIPs: where externalTrafficPolicy means something. */
function externallyAccessible(svc: Service): boolean {
  const type = svc.spec.type ?? 'ClusterIP';
  return type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (svc.spec.externalIPs?.length ?? 0) > 0);
}

function uniqueIPv4(ips: Array<string | undefined>): string[] {
  return [...new Set(ips.filter((ip): ip is string => parseIPv4(ip) !== undefined))];
}

/**
 * The rule model of a validated Service, one entry per port, with no endpoints yet.
 * Empty for what is never programmed: ExternalName and headless Services, and a
 * Service whose ClusterIP is not yet allocated or lies outside the service CIDR.
 */
export function buildServicePorts(svc: Service, serviceCIDR: string): ServicePortInfo[] {
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  if (type === 'ExternalName') return [];
  const clusterIP = serviceClusterIPv4(svc);
  if (clusterIP === undefined || clusterIP === 'None') return [];
  // Validation already refused this; checked again so nothing outside the range is ever captured.
  if (!isAllocatableIP(parseServiceCIDR(serviceCIDR), parseIPv4(clusterIP) ?? -1)) return [];

  const namespace = svc.metadata.namespace || 'default';
  const name = svc.metadata.name ?? '';
  const hasNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  const stickySeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS) : 0;
  const externalIPs = uniqueIPv4(spec.externalIPs ?? []);
  // ipMode Proxy: the load balancer itself delivers to the node, so its IP must not be captured.
  const loadBalancerIPs =
    type === 'LoadBalancer' ? uniqueIPv4((svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ipMode !== 'Proxy').map((i) => i.ip)) : [];
  const externalTrafficLocal = externallyAccessible(svc) && spec.externalTrafficPolicy === 'Local';
  const internalTrafficLocal = spec.internalTrafficPolicy === 'Local';

  return (spec.ports ?? []).map(
    (p): ServicePortInfo => ({
      name: { namespace, name, port: p.name ?? '', protocol: (p.protocol ?? 'TCP') as ServiceProtocol },
      type,
      clusterIP,
      port: p.port,
      nodePort: hasNodePorts ? (p.nodePort ?? 0) : 0,
      externalIPs: [...externalIPs],
      loadBalancerIPs: [...loadBalancerIPs],
      stickySeconds,
      externalTrafficLocal,
      internalTrafficLocal,
      endpoints: [],
    }),
  );
}

export interface ServiceMapInput extends ServiceValidationOptions {
  services: Service[];
  /** EndpointSlices of any Services; grouped by their kubernetes.io/service-name label. */
  slices: EndpointSlice[];
  nodeName: string;
  /** Where a Service came from, for error messages (a manifest path; "apiserver"). */
  whereOf?: (svc: Service) => string;
  /** Called for each malformed endpoint address or port (the caller logs once per object and field). */
  log: EndpointLog;
}

export interface InvalidService {
  /** `namespace/name`. */
  service: string;
  errors: string[];
}

export interface ServiceMap {
  services: ProxyState['services'];
  /** Skipped Services with the apiserver's messages; the caller logs each once. */
  invalid: InvalidService[];
}

/**
 * Every valid Service with its endpoints, keyed as ProxyState.services is. An
 * invalid Service is left out and reported; it never affects the others.
 */
export function buildServiceMap(input: ServiceMapInput): ServiceMap {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of input.slices) {
    const key = sliceServiceKey(slice);
    if (key === undefined) continue;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const services = new Map<string, ServicePortInfo>();
  const invalid: InvalidService[] = [];
  for (const svc of input.services) {
    const result = validateService(svc, input.whereOf?.(svc) ?? '', input);
    if (!result.ok) {
      invalid.push({ service: serviceKeyOf(svc), errors: result.errors });
      continue;
    }
    const ports = buildServicePorts(svc, input.serviceCIDR);
    attachEndpoints(ports, slicesByService.get(serviceKeyOf(svc)) ?? [], input.nodeName, input.log);
    for (const port of ports) services.set(serviceKey(port), port);
  }
  return { services, invalid };
}
