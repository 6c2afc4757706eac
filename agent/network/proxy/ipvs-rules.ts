// The IPVS backend's desired state, after kube-proxy's ipvs mode: every Service
// address is bound to a dummy interface so the kernel takes it as local, IPVS
// virtual servers (round robin, persistence for ClientIP affinity) balance it, and a
// few iptables rules do what IPVS cannot: masquerade. kube-proxy matches ipsets in
// those rules; with one rule per address instead, no ipset tooling is needed and the
// rule count stays small (a few per Service, against a dozen per Service in iptables mode).
// A virtual server without real servers is kept: IPVS answers its packets with ICMP
// port-unreachable, the same "refused at once" the other modes give with REJECT.
import { categorizeEndpoints, isProgrammableServicePort, programmableAddresses } from './endpoint-selection.js';
import { serviceChainNames } from './chain-names.js';
import { KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_POSTROUTING, KUBE_SERVICES, MASQUERADE_MARK, type IptablesJumpRule } from './iptables-rules.js';
import type { EndpointInfo, ProxyState, ServiceProtocol } from './service-model.js';

/** The dummy interface holding every Service address (kube-proxy's kube-ipvs0). */
export const IPVS_DUMMY_INTERFACE = 'nodelet-ipvs0';
/** kube-proxy ipvs mode's NodePort chain name. */
export const KUBE_NODE_PORT = 'KUBE-NODE-PORT';

export interface IpvsRealServer {
  address: string;
  port: number;
  weight: number;
}

export interface IpvsVirtualServer {
  address: string;
  port: number;
  protocol: ServiceProtocol;
  scheduler: 'rr';
  /** ClientIP affinity: IPVS persistence timeout in seconds; absent = none. */
  persistenceSeconds?: number;
  realServers: IpvsRealServer[];
}

export interface IpvsState {
  virtualServers: IpvsVirtualServer[];
  /** Addresses to bind on IPVS_DUMMY_INTERFACE (ClusterIPs, external and load-balancer IPs), sorted. */
  dummyAddresses: string[];
  /** `iptables-restore --noflush` input (nat and filter), COMMIT included. */
  iptablesRestore: string;
  /** Service keys left out because the port is not programmable. */
  skipped: string[];
}

function realServers(endpoints: EndpointInfo[]): IpvsRealServer[] {
  return endpoints.map((ep) => ({ address: ep.ip, port: ep.port, weight: 1 }));
}

function vsKey(vs: Pick<IpvsVirtualServer, 'protocol' | 'address' | 'port'>): string {
  return `${vs.protocol} ${vs.address}:${vs.port}`;
}

/** The jumps from built-in chains the applier ensures (`-C || -I`), as for iptables mode. */
export function ipvsIptablesJumpRules(): IptablesJumpRule[] {
  const comment = (text: string) => ['-m', 'comment', '--comment', text];
  return [
    { table: 'nat', chain: 'PREROUTING', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'nat', chain: 'OUTPUT', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'nat', chain: 'POSTROUTING', rule: [...comment('kubernetes postrouting rules'), '-j', KUBE_POSTROUTING] },
    { table: 'filter', chain: 'FORWARD', rule: [...comment('kubernetes forwarding rules'), '-j', KUBE_FORWARD] },
  ];
}

export function buildIpvsState(state: ProxyState): IpvsState {
  const virtualServers: IpvsVirtualServer[] = [];
  const seen = new Set<string>();
  const addresses = new Set<string>();
  const skipped: string[] = [];
  const services: string[] = [];
  const nodePorts: string[] = [];
  const hairpins: string[] = [];

  const addVirtualServer = (vs: IpvsVirtualServer) => {
    const key = vsKey(vs);
    if (seen.has(key)) return; // two Services claiming one address:port: the first keeps it
    seen.add(key);
    virtualServers.push(vs);
  };

  const nodeIPs = programmableAddresses(state.nodeIPs);
  for (const key of [...state.services.keys()].sort()) {
    const info = state.services.get(key)!;
    if (!isProgrammableServicePort(info)) {
      if (info.clusterIP !== 'None' && info.clusterIP !== '') skipped.push(key);
      continue;
    }
    const names = serviceChainNames(info.name);
    const name = names.nameString;
    const proto = names.protocol;
    const cat = categorizeEndpoints(info);
    const internal = info.internalTrafficLocal ? cat.local : cat.cluster;
    const external = info.externalTrafficLocal ? cat.local : cat.cluster;
    const persistence = info.stickySeconds > 0 ? { persistenceSeconds: info.stickySeconds } : {};
    const vs = (address: string, port: number, eps: EndpointInfo[]): IpvsVirtualServer => ({
      address,
      port,
      protocol: info.name.protocol,
      scheduler: 'rr',
      ...persistence,
      realServers: realServers(eps),
    });

    addVirtualServer(vs(info.clusterIP, info.port, internal));
    addresses.add(info.clusterIP);
    const notFromPods = state.clusterCIDR ? ` ! -s ${state.clusterCIDR}` : '';
    services.push(
      `-A ${KUBE_SERVICES} -d ${info.clusterIP}/32${notFromPods} -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${info.port} -j ${KUBE_MARK_MASQ}`,
    );

    const externalIPs: Array<[string, string]> = [];
    for (const ip of programmableAddresses(info.externalIPs)) externalIPs.push([ip, 'external IP']);
    for (const ip of programmableAddresses(info.loadBalancerIPs)) externalIPs.push([ip, 'loadbalancer IP']);
    for (const [ip, what] of externalIPs) {
      addVirtualServer(vs(ip, info.port, external));
      addresses.add(ip);
      // Local policy keeps the client's address: only Cluster policy masquerades.
      if (!info.externalTrafficLocal) {
        services.push(
          `-A ${KUBE_SERVICES} -d ${ip}/32 -p ${proto} -m comment --comment "${name} ${what}" -m ${proto} --dport ${info.port} -j ${KUBE_MARK_MASQ}`,
        );
      }
    }

    if (info.nodePort !== 0) {
      // IPVS needs a virtual server per node address; with none known, NodePorts are not served.
      for (const ip of nodeIPs) addVirtualServer(vs(ip, info.nodePort, external));
      if (!info.externalTrafficLocal) {
        nodePorts.push(`-A ${KUBE_NODE_PORT} -p ${proto} -m comment --comment ${name} -m ${proto} --dport ${info.nodePort} -j ${KUBE_MARK_MASQ}`);
      }
    }

    // An endpoint reaching its own Service and balanced to itself: without SNAT the
    // reply would bypass IPVS. (kube-proxy's KUBE-LOOP-BACK ipset, as plain rules.)
    for (const ep of cat.reachable) {
      hairpins.push(
        `-A ${KUBE_POSTROUTING} -s ${ep.ip}/32 -d ${ep.ip}/32 -p ${proto} -m comment --comment "${name} hairpin" -m ${proto} --dport ${ep.port} -j MASQUERADE`,
      );
    }
  }

  const nat = [
    '*nat',
    `:${KUBE_SERVICES} - [0:0]`,
    `:${KUBE_NODE_PORT} - [0:0]`,
    `:${KUBE_POSTROUTING} - [0:0]`,
    `:${KUBE_MARK_MASQ} - [0:0]`,
    ...hairpins,
    `-A ${KUBE_POSTROUTING} -m mark ! --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j RETURN`,
    `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${MASQUERADE_MARK}`,
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${MASQUERADE_MARK}`,
    ...services,
    `-A ${KUBE_SERVICES} -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j ${KUBE_NODE_PORT}`,
    ...nodePorts,
    'COMMIT',
  ];
  const filter = [
    '*filter',
    `:${KUBE_FORWARD} - [0:0]`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j ACCEPT`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    'COMMIT',
  ];
  return {
    virtualServers,
    dummyAddresses: [...addresses].sort(),
    iptablesRestore: [...nat, ...filter, ''].join('\n'),
    skipped,
  };
}

// ---- ipvsadm -R ----

function serviceFlag(vs: Pick<IpvsVirtualServer, 'protocol' | 'address' | 'port'>): string {
  const flag = vs.protocol === 'TCP' ? '-t' : vs.protocol === 'UDP' ? '-u' : '--sctp-service';
  return `${flag} ${vs.address}:${vs.port}`;
}

function serviceOptions(vs: IpvsVirtualServer): string {
  return vs.persistenceSeconds ? `-s ${vs.scheduler} -p ${vs.persistenceSeconds}` : `-s ${vs.scheduler}`;
}

function realServerLine(op: '-a' | '-e', vs: IpvsVirtualServer, rs: IpvsRealServer): string {
  // -m: masquerading (NAT), the only forwarding method that reaches pods on a bridge.
  return `${op} ${serviceFlag(vs)} -r ${rs.address}:${rs.port} -m -w ${rs.weight}`;
}

/**
 * `ipvsadm -R` input turning `current` into `desired`: real servers and virtual
 * servers removed first, then virtual servers added (-A) or edited (-E, which resets
 * every option, so the scheduler is always given), then real servers added (-a) or
 * re-weighted (-e). Empty when nothing differs.
 */
export function ipvsadmRestoreScript(current: IpvsVirtualServer[], desired: IpvsVirtualServer[]): string {
  const now = new Map(current.map((vs) => [vsKey(vs), vs]));
  const want = new Map(desired.map((vs) => [vsKey(vs), vs]));
  const rsDeletes: string[] = [];
  const vsDeletes: string[] = [];
  const vsAdds: string[] = [];
  const vsEdits: string[] = [];
  const rsChanges: string[] = [];

  for (const [key, vs] of now) if (!want.has(key)) vsDeletes.push(`-D ${serviceFlag(vs)}`);
  for (const [key, vs] of want) {
    const before = now.get(key);
    if (!before) {
      vsAdds.push(`-A ${serviceFlag(vs)} ${serviceOptions(vs)}`);
      for (const rs of vs.realServers) rsChanges.push(realServerLine('-a', vs, rs));
      continue;
    }
    if (before.scheduler !== vs.scheduler || (before.persistenceSeconds ?? 0) !== (vs.persistenceSeconds ?? 0)) {
      vsEdits.push(`-E ${serviceFlag(vs)} ${serviceOptions(vs)}`);
    }
    const oldServers = new Map(before.realServers.map((rs) => [`${rs.address}:${rs.port}`, rs]));
    const newServers = new Set(vs.realServers.map((rs) => `${rs.address}:${rs.port}`));
    for (const [addr] of oldServers) if (!newServers.has(addr)) rsDeletes.push(`-d ${serviceFlag(vs)} -r ${addr}`);
    for (const rs of vs.realServers) {
      const old = oldServers.get(`${rs.address}:${rs.port}`);
      if (!old) rsChanges.push(realServerLine('-a', vs, rs));
      else if (old.weight !== rs.weight) rsChanges.push(realServerLine('-e', vs, rs));
    }
  }
  const lines = [...rsDeletes, ...vsDeletes, ...vsAdds, ...vsEdits, ...rsChanges];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
