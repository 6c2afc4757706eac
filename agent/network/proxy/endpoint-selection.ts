// Which endpoints of a Service port the proxy programs, as kube-proxy chooses them
// (pkg/proxy/topology.go CategorizeEndpoints, topology hints left out). Pure; every
// backend (iptables, nftables, ipvs) goes through here so they agree on the choice.
import type { EndpointInfo, ServicePortInfo } from './service-model.js';

/**
 * A dotted quad as an unsigned 32-bit number, or -1. Strict as the apiserver: four
 * decimal octets, no leading zeros. Hand-rolled because it runs for every endpoint of
 * every Service on every sync (a regex here was a third of a 10,000-Service sync).
 */
export function ipv4ToNumber(ip: string): number {
  const len = ip.length;
  if (len < 7 || len > 15) return -1;
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + octet;
}

const LOOPBACK_NET = 127;
const LINK_LOCAL_HI = 169;
const LINK_LOCAL_LO = 254;
/** 224.0.0.0/24 as a number: link-local multicast. */
const LINK_LOCAL_MULTICAST = 0xe0000000;

/**
 * An endpoint address the proxy may DNAT to. Loopback and link-local addresses are
 * never programmed (CVE-2021-25737: an EndpointSlice pointing at 127.0.0.1 or the
 * metadata server 169.254.169.254 would let a Service reach the node itself); the
 * unspecified address and link-local multicast are refused as the apiserver refuses them.
 */
export function isProgrammableEndpointIP(ip: string): boolean {
  return isProgrammableAddress(ipv4ToNumber(ip));
}

function isProgrammableAddress(n: number): boolean {
  if (n <= 0) return false;
  const first = n >>> 24;
  if (first === LOOPBACK_NET) return false;
  if (first === LINK_LOCAL_HI && ((n >>> 16) & 255) === LINK_LOCAL_LO) return false;
  if (n - (n % 256) === LINK_LOCAL_MULTICAST) return false;
  return true;
}

function isPortNumber(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 65535;
}

/** `ip:port`, kube-proxy's Endpoint.String() for IPv4 (the input of SEP chain hashes). */
export function endpointString(ep: Pick<EndpointInfo, 'ip' | 'port'>): string {
  return `${ep.ip}:${ep.port}`;
}

/**
 * Sorted by address and without duplicates, so the generated rules do not depend on
 * the order endpoints arrived in (a restart must rewrite nothing that did not change),
 * and one `ip:port` listed by two EndpointSlices is one backend, as in kube-proxy's map.
 * `keys[i]` is eps[i]'s address * 65536 + port.
 */
function canonical(eps: EndpointInfo[], keys: number[]): EndpointInfo[] {
  if (eps.length < 2) return eps;
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) if (keys[i - 1]! >= keys[i]!) sorted = false;
  if (sorted) return eps;
  const order = keys.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]!);
  const out: EndpointInfo[] = [];
  let last = -1;
  for (const i of order) {
    if (keys[i] === last) continue;
    last = keys[i]!;
    out.push(eps[i]!);
  }
  return out;
}

/**
 * kube-proxy's choice: the Ready endpoints; when none is Ready, the ones still Serving
 * while Terminating (so a rolling update of the last pod drains instead of failing).
 * `local` applies the same rule to this node's endpoints alone: a node with only
 * terminating local endpoints still uses them even when other nodes have ready ones.
 * Unprogrammable addresses (see isProgrammableEndpointIP) and ports are left out.
 */
export function selectEndpoints(info: ServicePortInfo, forTraffic: 'cluster' | 'local'): EndpointInfo[] {
  const local = forTraffic === 'local';
  const ready: EndpointInfo[] = [];
  const readyKeys: number[] = [];
  let fallback: EndpointInfo[] | undefined;
  let fallbackKeys: number[] | undefined;
  for (const ep of info.endpoints) {
    if (local && !ep.isLocal) continue;
    if (!ep.ready && !(ready.length === 0 && ep.serving && ep.terminating)) continue;
    const addr = ipv4ToNumber(ep.ip);
    if (!isProgrammableAddress(addr) || !isPortNumber(ep.port)) continue;
    const key = addr * 65536 + ep.port;
    if (ep.ready) {
      ready.push(ep);
      readyKeys.push(key);
    } else {
      (fallback ??= []).push(ep);
      (fallbackKeys ??= []).push(key);
    }
  }
  if (ready.length > 0 || !fallback) return canonical(ready, readyKeys);
  return canonical(fallback, fallbackKeys!);
}

/** NodePort, an external IP or a load-balancer IP: traffic that externalTrafficPolicy governs. */
export function isExternallyAccessible(info: ServicePortInfo): boolean {
  return info.nodePort !== 0 || info.externalIPs.length > 0 || info.loadBalancerIPs.length > 0;
}

/** Everything a rule generator needs to know about one Service port's endpoints. */
export interface EndpointCategories {
  /** Endpoints for Cluster traffic policy; empty when no traffic uses that policy. */
  cluster: EndpointInfo[];
  /** This node's endpoints for Local traffic policy; empty when no traffic uses that policy. */
  local: EndpointInfo[];
  /** cluster ∪ local: the endpoints that get a per-endpoint chain. */
  reachable: EndpointInfo[];
  /** Some usable endpoint exists anywhere; false → traffic to the Service is rejected. */
  hasEndpoints: boolean;
  /** ClusterIP traffic has somewhere to go (false with Local internal policy and no local endpoint → dropped). */
  hasInternalEndpoints: boolean;
  /** External traffic has somewhere to go (false with Local external policy and no local endpoint → dropped). */
  hasExternalEndpoints: boolean;
  externallyAccessible: boolean;
  /**
   * Some traffic is spread over `cluster` endpoints. True even with Local external
   * policy when the Service is externally accessible: pod- and node-originated traffic
   * to an external address is short-circuited to all endpoints, as kube-proxy does.
   */
  usesClusterEndpoints: boolean;
  usesLocalEndpoints: boolean;
}

export function categorizeEndpoints(info: ServicePortInfo): EndpointCategories {
  const externallyAccessible = isExternallyAccessible(info);
  const usesClusterEndpoints = !info.internalTrafficLocal || externallyAccessible;
  const usesLocalEndpoints = info.internalTrafficLocal || (externallyAccessible && info.externalTrafficLocal);
  // Any usable endpoint anywhere: the cluster choice is non-empty exactly then.
  const anywhere = selectEndpoints(info, 'cluster');
  const hasEndpoints = anywhere.length > 0;
  const cluster = usesClusterEndpoints ? anywhere : [];
  const local = usesLocalEndpoints ? selectEndpoints(info, 'local') : [];

  let reachable = cluster;
  if (local.length > 0) {
    if (cluster.length === 0) reachable = local;
    else {
      const seen = new Set(cluster.map(endpointString));
      const extra = local.filter((ep) => !seen.has(endpointString(ep)));
      if (extra.length > 0) {
        const all = [...cluster, ...extra];
        reachable = canonical(
          all,
          all.map((ep) => ipv4ToNumber(ep.ip) * 65536 + ep.port),
        );
      }
    }
  }
  return {
    cluster,
    local,
    reachable,
    hasEndpoints,
    hasInternalEndpoints: hasEndpoints && (!info.internalTrafficLocal || local.length > 0),
    hasExternalEndpoints: hasEndpoints && (!info.externalTrafficLocal || local.length > 0),
    externallyAccessible,
    usesClusterEndpoints,
    usesLocalEndpoints,
  };
}

/**
 * A Service port the generators can program: an IPv4 ClusterIP (headless 'None' and
 * empty are never programmed), a valid port and NodePort. The input side validates
 * and logs; this is the generators' own guard so one bad object can never make a
 * whole iptables-restore or nft transaction fail.
 */
export function isProgrammableServicePort(info: ServicePortInfo): boolean {
  if (ipv4ToNumber(info.clusterIP) < 0) return false;
  if (!isPortNumber(info.port)) return false;
  if (info.nodePort !== 0 && !isPortNumber(info.nodePort)) return false;
  return info.name.protocol === 'TCP' || info.name.protocol === 'UDP' || info.name.protocol === 'SCTP';
}

/** External and load-balancer addresses that parse as IPv4; anything else is left out of the rules. */
export function programmableAddresses(ips: string[]): string[] {
  let ok = true;
  for (const ip of ips) if (ipv4ToNumber(ip) < 0) ok = false;
  return ok ? ips : ips.filter((ip) => ipv4ToNumber(ip) >= 0);
}
