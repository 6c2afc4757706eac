// Builders for the proxy rule model, shared by the generator tests.
import { serviceKey, type EndpointInfo, type ProxyState, type ServicePortInfo, type ServiceProtocol } from '../../../../agent/network/proxy/service-model.js';

export function endpoint(ip: string, port = 8080, over: Partial<EndpointInfo> = {}): EndpointInfo {
  return { ip, port, ready: true, serving: true, terminating: false, isLocal: false, ...over };
}

export interface ServiceOptions extends Partial<Omit<ServicePortInfo, 'name'>> {
  portName?: string;
  protocol?: ServiceProtocol;
}

export function servicePort(namespace: string, name: string, opts: ServiceOptions = {}): ServicePortInfo {
  const { portName = '', protocol = 'TCP', ...rest } = opts;
  return {
    name: { namespace, name, port: portName, protocol },
    type: rest.nodePort ? 'NodePort' : 'ClusterIP',
    clusterIP: '10.96.0.10',
    port: 80,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    stickySeconds: 0,
    externalTrafficLocal: false,
    internalTrafficLocal: false,
    endpoints: [],
    ...rest,
  };
}

export function proxyState(services: ServicePortInfo[], over: Partial<Omit<ProxyState, 'services'>> = {}): ProxyState {
  return {
    services: new Map(services.map((s) => [serviceKey(s), s])),
    nodeIPs: [],
    serviceCIDR: '10.96.0.0/12',
    clusterCIDR: '10.244.0.0/16',
    ...over,
  };
}

/** `count` Services with `perService` ready endpoints each, ClusterIPs and pod IPs all distinct. */
export function largeState(count: number, perService: number): ProxyState {
  const services: ServicePortInfo[] = [];
  let pod = 0;
  for (let i = 0; i < count; i++) {
    const endpoints: EndpointInfo[] = [];
    for (let j = 0; j < perService; j++, pod++) {
      endpoints.push(endpoint(`10.${128 + (pod >> 16)}.${(pod >> 8) & 255}.${pod & 255}`, 8080));
    }
    services.push(
      servicePort(`ns${i % 50}`, `svc-${i}`, {
        portName: 'http',
        clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
        endpoints,
      }),
    );
  }
  return proxyState(services, { clusterCIDR: '10.128.0.0/9' });
}
