// Synthetic proxy states for the proxy benchmark: many ClusterIP Services with a few
// ready endpoints each, every ClusterIP and pod IP distinct, and single-Service
// endpoint changes on top of them.
import { serviceKey, type EndpointInfo, type ProxyState, type ServicePortInfo } from '../../agent/network/proxy/service-model.js';

const SERVICE_CIDR = '10.96.0.0/12';
/** Pod IPs come from 10.128.0.0/9; replacement endpoints from 10.200.0.0/16 beyond the pods. */
const CLUSTER_CIDR = '10.128.0.0/9';
const ENDPOINT_PORT = 8080;

function ipFrom(base: [number, number], n: number): string {
  const hi = base[1] + (n >> 16);
  return `${base[0]}.${hi}.${(n >> 8) & 255}.${n & 255}`;
}

function readyEndpoint(ip: string): EndpointInfo {
  return { ip, port: ENDPOINT_PORT, ready: true, serving: true, terminating: false, isLocal: false };
}

/** `count` Services (port 80 "http", TCP) with `perService` ready endpoints each. */
export function benchProxyState(count: number, perService: number): ProxyState {
  // 10.96.0.0/12 holds 2^20 addresses and 10.128.0.0/9 far more pods than any run makes.
  if (count >= 1 << 20) throw new RangeError(`--services ${count}: the service CIDR ${SERVICE_CIDR} holds fewer ClusterIPs`);
  if (count * perService >= 72 << 16) throw new RangeError(`${count}×${perService} endpoints do not fit below 10.200.0.0`);
  const services = new Map<string, ServicePortInfo>();
  let pod = 0;
  for (let i = 0; i < count; i++) {
    const endpoints: EndpointInfo[] = [];
    for (let j = 0; j < perService; j++) endpoints.push(readyEndpoint(ipFrom([10, 128], pod++)));
    const info: ServicePortInfo = {
      name: { namespace: `bench-${i % 50}`, name: `svc-${i}`, port: 'http', protocol: 'TCP' },
      type: 'ClusterIP',
      clusterIP: ipFrom([10, 96], i),
      port: 80,
      nodePort: 0,
      externalIPs: [],
      loadBalancerIPs: [],
      stickySeconds: 0,
      externalTrafficLocal: false,
      internalTrafficLocal: false,
      endpoints,
    };
    services.set(serviceKey(info), info);
  }
  return { services, nodeIPs: [], serviceCIDR: SERVICE_CIDR, clusterCIDR: CLUSTER_CIDR };
}

/**
 * `state` with the last endpoint of the `index`-th Service (in insertion order)
 * replaced by a new pod IP, numbered by `change` so every change is a real one.
 * Returns the new state (the input is not modified) and the changed Service's key.
 */
export function withOneEndpointReplaced(state: ProxyState, index: number, change: number): { state: ProxyState; key: string } {
  const entry = [...state.services.entries()][index % state.services.size];
  if (!entry) throw new RangeError('withOneEndpointReplaced: the state has no Services');
  const [key, info] = entry;
  const endpoints = [...info.endpoints.slice(0, -1), readyEndpoint(ipFrom([10, 200], change))];
  const services = new Map(state.services);
  services.set(key, { ...info, endpoints });
  return { state: { ...state, services }, key };
}
