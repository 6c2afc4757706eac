// The proxy's rule model: what every backend (iptables, nftables, ipvs) programs.
// Services and EndpointSlices (or standalone manifests and local pods) are turned
// into ServicePortInfo values once; the rule generators are pure functions of them.

export type ServiceProtocol = 'TCP' | 'UDP' | 'SCTP';

/** `namespace/name:portName` — kube-proxy's ServicePortName; portName may be empty. */
export interface ServicePortName {
  namespace: string;
  name: string;
  port: string;
  protocol: ServiceProtocol;
}

export function servicePortNameString(n: ServicePortName): string {
  return `${n.namespace}/${n.name}${n.port ? `:${n.port}` : ''}`;
}

/** One endpoint of one Service port (kube-proxy's Endpoint). */
export interface EndpointInfo {
  ip: string;
  port: number;
  /** Ready per the EndpointSlice conditions (or pod readiness in standalone mode). */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** The endpoint's pod runs on this node (EndpointSlice nodeName equals ours). */
  isLocal: boolean;
  /** Zone hints are ignored; kept out of the model on purpose. */
}

export interface ServicePortInfo {
  name: ServicePortName;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** The first ClusterIP (IPv4 only in this proxy), or 'None' for headless (never programmed). */
  clusterIP: string;
  port: number;
  /** 0 = no NodePort. */
  nodePort: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** ClientIP affinity timeout; 0 = no affinity. */
  stickySeconds: number;
  externalTrafficLocal: boolean;
  internalTrafficLocal: boolean;
  /** Every endpoint known for this port, unfiltered; the generators pick via selectEndpoints. */
  endpoints: EndpointInfo[];
}

/** The whole desired state the proxy programs in one sync. */
export interface ProxyState {
  /** Key: servicePortNameString(name) + '/' + protocol. */
  services: Map<string, ServicePortInfo>;
  /** Addresses NodePorts answer on (node IPs); loopback is never included. */
  nodeIPs: string[];
  /** The service CIDR routed to the local dummy interface (e.g. 10.96.0.0/12). */
  serviceCIDR: string;
  /** The pod CIDR of this node (traffic from outside it to a ClusterIP is masqueraded). */
  clusterCIDR?: string;
}

export function serviceKey(info: Pick<ServicePortInfo, 'name'>): string {
  return `${servicePortNameString(info.name)}/${info.name.protocol}`;
}
