// The subset of Kubernetes core/v1 Service and Endpoints and discovery.k8s.io/v1
// EndpointSlice that the proxy reads. Field names, optionality and meaning follow
// the API exactly; values from manifests are unchecked until validateService.
import type { ObjectMeta } from '../../api/types.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface ServicePort {
  /** Required (a DNS-1123 label) when the Service has more than one port. */
  name?: string;
  /** Default TCP. */
  protocol?: Protocol;
  appProtocol?: string;
  port: number;
  /** A number, or the name of a container port of the backing pods; default = port. */
  targetPort?: number | string;
  /** Only for NodePort and LoadBalancer Services; 0 or absent = none. */
  nodePort?: number;
}

export interface SessionAffinityConfig {
  clientIP?: { timeoutSeconds?: number };
}

export interface ServiceSpec {
  /** Default ClusterIP. */
  type?: ServiceType;
  /** Pods with all these labels back the Service; absent = endpoints are managed by hand. */
  selector?: Record<string, string>;
  ports?: ServicePort[];
  /** An IP of the service CIDR, "None" for a headless Service, absent = to be allocated. */
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: Array<'IPv4' | 'IPv6'>;
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  externalIPs?: string[];
  externalName?: string;
  /** Default None. */
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: SessionAffinityConfig;
  /** Default Cluster; meaningful for externally reachable Services only. */
  externalTrafficPolicy?: 'Cluster' | 'Local';
  /** Default Cluster. */
  internalTrafficPolicy?: 'Cluster' | 'Local';
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  healthCheckNodePort?: number;
  publishNotReadyAddresses?: boolean;
  allocateLoadBalancerNodePorts?: boolean;
}

export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  /** Proxy: the load balancer rewrites the destination, so the node must not capture this IP. */
  ipMode?: 'VIP' | 'Proxy';
}

export interface ServiceStatus {
  loadBalancer?: { ingress?: LoadBalancerIngress[] };
}

export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: ServiceStatus;
}

/** core/v1 ObjectReference, as EndpointSlices and Endpoints point at pods. */
export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

// ---- discovery.k8s.io/v1 ----

/** Missing values: ready = true, serving = ready, terminating = false (API semantics). */
export interface EndpointConditions {
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
}

export interface Endpoint {
  /** Fungible addresses of one backend; consumers may use the first only. */
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
}

export interface EndpointPort {
  /** Matches the Service port's name ("" for an unnamed port). */
  name?: string;
  /** Default TCP. */
  protocol?: Protocol;
  /** The backend port; absent = unusable for the proxy. */
  port?: number;
  appProtocol?: string;
}

/** The label naming the Service a slice belongs to. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

export interface EndpointSlice {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  /** The API serializes an empty list as null. */
  endpoints: Endpoint[] | null;
  ports?: EndpointPort[] | null;
}

// ---- core/v1 Endpoints (the fallback where the server has no EndpointSlice API) ----

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}

export interface CoreEndpointPort {
  name?: string;
  port: number;
  protocol?: Protocol;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: CoreEndpointPort[];
}

export interface Endpoints {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  subsets?: EndpointSubset[];
}

/** `namespace/name` of a Service (namespace default "default"); safe on unchecked input. */
export function serviceKeyOf(svc: Pick<Service, 'metadata'>): string {
  const meta = (svc as Partial<Pick<Service, 'metadata'>> | undefined)?.metadata;
  const namespace = typeof meta?.namespace === 'string' && meta.namespace ? meta.namespace : 'default';
  const name = typeof meta?.name === 'string' ? meta.name : '';
  return `${namespace}/${name}`;
}

/** `namespace/name` of the Service an EndpointSlice belongs to, from its label. */
export function sliceServiceKey(slice: Pick<EndpointSlice, 'metadata'>): string | undefined {
  const name = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return name ? `${slice.metadata.namespace || 'default'}/${name}` : undefined;
}
