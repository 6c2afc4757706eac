// The iptables backend's rules, in kube-proxy's layout (pkg/proxy/iptables/proxier.go)
// so an operator reading `iptables-save` finds what they know. Pure: ProxyState in,
// iptables-restore input out; the applier runs `iptables-restore --noflush` with it
// and keeps the returned chain set for the next sync.
//
// With --noflush, a `:CHAIN - [0:0]` line creates the chain or FLUSHES it if it exists
// (checked on iptables 1.8.9). So a partial sync declares only the chains whose bodies
// it rewrites: declaring an unchanged Service's chain without its rules would empty it.
//
// Two things keep iptables-nft 1.8.9 linear at 10,000 Services. It notes every chain a
// command names (and every jump target) in a sorted linked list, to fetch only those
// chains; inserting name x walks past every listed name below x, which made a full sync
// of 60,000 chains take over 20 minutes. A full sync therefore starts its nat section
// with `-S`, a command naming no chain, after which iptables-nft fetches the whole table
// and keeps no list (the listing goes to stdout, which the applier discards). A partial
// sync, which still names all 10,000 KUBE-SERVICES jump targets, writes those jumps in
// descending target order, so each new name sorts first and is inserted at the head
// (1.3 s → 0.7 s for a one-Service change at 10,000 Services).
import { categorizeEndpoints, endpointString, isProgrammableServicePort, programmableAddresses, type EndpointCategories } from './endpoint-selection.js';
import { isServiceChainName, serviceChainNames, type ServiceChainNames } from './chain-names.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from './service-model.js';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';

/**
 * The canary: an empty-but-for-one-RETURN chain in nat and filter, written by full
 * syncs only. kube-proxy keeps its canary in mangle too; we write nothing in mangle, so
 * we watch the two tables whose loss breaks Services. The RETURN rule makes a plain
 * flush (`iptables -t nat -F`, which keeps chains) visible, not only a table reload.
 * The monitor runs `iptables -t <table> -C <chain> <rule>`; a failure means drift → full sync.
 */
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
export const IPTABLES_CANARY_TABLES = ['nat', 'filter'] as const;
export const IPTABLES_CANARY_RULE: readonly string[] = ['-j', 'RETURN'];

/** The masquerade bit (kube-proxy's default --iptables-masquerade-bit=14). */
export const MASQUERADE_MARK = '0x4000';

/**
 * Above this many endpoints the per-endpoint comments are left out, as kube-proxy's
 * "large cluster mode" does: they make up ~40% of the restore input.
 */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

export interface IptablesSyncOptions {
  /** Service keys (serviceKey()) whose chains are rewritten; absent = full sync. */
  changed?: Set<string>;
  /** Our nat chains present in the kernel (the last result's `chains`, or parsed from iptables-save). */
  previousChains?: Set<string>;
}

export interface IptablesRules {
  /** iptables-restore input for `*nat`, COMMIT included, for --noflush. */
  nat: string;
  /** iptables-restore input for `*filter`, COMMIT included, for --noflush. */
  filter: string;
  /** Every nat chain we own after this sync (fixed and per-Service); filter chains are fixed. */
  chains: Set<string>;
  /** `-A` lines written (both tables). */
  ruleCount: number;
  /** Service keys left out because the port is not programmable (bad ClusterIP/port/protocol). */
  skipped: string[];
  /** Whether this was a full sync (no `changed` given). */
  full: boolean;
}

export interface IptablesJumpRule {
  table: 'nat' | 'filter';
  /** The built-in chain holding the jump. */
  chain: string;
  /** Arguments after `-C/-I <chain>`, one argv element each (no shell quoting). */
  rule: string[];
}

/**
 * The jumps from built-in chains into ours, kube-proxy's list minus the load-balancer
 * firewall (no loadBalancerSourceRanges in the model). The applier keeps them first in
 * their chains, in this order (ensureIptablesJumps), on every full sync; they are not
 * in the sync's restore input, which must not touch built-ins.
 */
export function iptablesJumpRules(): IptablesJumpRule[] {
  const newConn = ['-m', 'conntrack', '--ctstate', 'NEW'];
  const comment = (text: string) => ['-m', 'comment', '--comment', text];
  return [
    { table: 'filter', chain: 'INPUT', rule: [...newConn, ...comment('kubernetes externally-visible service portals'), '-j', KUBE_EXTERNAL_SERVICES] },
    { table: 'filter', chain: 'FORWARD', rule: [...newConn, ...comment('kubernetes externally-visible service portals'), '-j', KUBE_EXTERNAL_SERVICES] },
    { table: 'filter', chain: 'INPUT', rule: [...comment('kubernetes health check service ports'), '-j', KUBE_NODEPORTS] },
    { table: 'filter', chain: 'FORWARD', rule: [...newConn, ...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'filter', chain: 'OUTPUT', rule: [...newConn, ...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'filter', chain: 'FORWARD', rule: [...comment('kubernetes forwarding rules'), '-j', KUBE_FORWARD] },
    { table: 'nat', chain: 'OUTPUT', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'nat', chain: 'PREROUTING', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES] },
    { table: 'nat', chain: 'POSTROUTING', rule: [...comment('kubernetes postrouting rules'), '-j', KUBE_POSTROUTING] },
  ];
}

// ---- probabilities ----

const probabilities: string[] = [];

/** 1/n with 10 decimals, exactly as Go's fmt "%0.10f" prints it (round half to even). */
function computeProbability(n: number): string {
  // Both round the double's exact value; they differ only on an exact tie, where Go
  // rounds to even and toFixed up. 1/n is exact only for powers of two, and of those
  // only 1/2048 = 0.00048828125 ties at the 10th decimal; every other double 1/n has
  // ~50 decimals and cannot. So powers of two are rounded by hand, the rest by toFixed.
  if ((n & (n - 1)) === 0 && n > 1024) {
    const k = BigInt(Math.log2(n));
    const scaled = 5n ** k * 10n ** 10n; // (1/2^k) * 10^10 * 10^k
    const unit = 10n ** k;
    let q = scaled / unit;
    const r = scaled % unit;
    if (r * 2n > unit || (r * 2n === unit && q % 2n === 1n)) q += 1n;
    return `0.${q.toString().padStart(10, '0')}`;
  }
  return (1 / n).toFixed(10);
}

/** The `--probability` of rule i of n: 1/(n-i), memoised. */
export function iptablesProbability(remaining: number): string {
  let p = probabilities[remaining];
  if (p === undefined) {
    p = computeProbability(remaining);
    probabilities[remaining] = p;
  }
  return p;
}

// ---- generation ----

interface Writer {
  natChains: string[];
  /** KUBE-SERVICES / KUBE-NODEPORTS jumps with their target, ordered before writing (see the top). */
  dispatch: Array<{ target: string; line: string }>;
  /** One line each, except the per-Service chunks of writeServiceChains. */
  natRules: string[];
  filterRules: string[];
  chains: Set<string>;
  /** Lines inside the per-Service chunks of natRules, and the number of those chunks. */
  chunkedRules: number;
  chunks: number;
}

interface ServicePlan {
  key: string;
  info: ServicePortInfo;
  cat: EndpointCategories;
  names: ServiceChainNames;
  svcChain: string;
  svlChain: string;
  extChain: string;
  usesClusterChain: boolean;
  usesLocalChain: boolean;
  usesExtChain: boolean;
  sepChains: string[];
}

function planService(key: string, info: ServicePortInfo): ServicePlan {
  const cat = categorizeEndpoints(info);
  const usesClusterChain = cat.cluster.length > 0 && cat.usesClusterEndpoints;
  const usesLocalChain = cat.local.length > 0 && cat.usesLocalEndpoints;
  const names = serviceChainNames(info.name);
  return {
    key,
    info,
    cat,
    names,
    svcChain: names.cluster,
    svlChain: names.local,
    extChain: names.external,
    usesClusterChain,
    usesLocalChain,
    usesExtChain: cat.hasEndpoints && cat.externallyAccessible,
    sepChains: cat.reachable.map((ep) => names.endpoint(ep.ip, ep.port)),
  };
}

function ownedChains(p: ServicePlan): string[] {
  const out: string[] = [];
  if (p.usesClusterChain) out.push(p.svcChain);
  if (p.usesLocalChain) out.push(p.svlChain);
  if (p.usesExtChain) out.push(p.extChain);
  for (const c of p.sepChains) out.push(c);
  return out;
}

interface ServiceDispatch {
  /** KUBE-SERVICES / KUBE-NODEPORTS jumps with their target. */
  nat: Array<{ target: string; line: string }>;
  /** The filter table's rejects and drops. */
  filter: string[];
}

interface PlannedService {
  plan: ServicePlan;
  owned: string[];
  dispatch: ServiceDispatch;
}

/**
 * What a Service port contributes to every sync, kept per ServicePortInfo object: a
 * partial sync rewrites the dispatch jumps of all 10,000 Services, and planning them
 * afresh (endpoint selection, hashed chain names) was most of its ~200 ms of
 * generation. The proxier keeps the same object for a Service that did not change,
 * and never mutates one it handed over.
 */
const planned = new WeakMap<ServicePortInfo, PlannedService>();

function plannedService(key: string, info: ServicePortInfo): PlannedService {
  let entry = planned.get(info);
  if (!entry) {
    const plan = planService(key, info);
    entry = { plan, owned: ownedChains(plan), dispatch: dispatchOf(plan) };
    planned.set(info, entry);
  }
  return entry;
}

/** KUBE-SERVICES / KUBE-NODEPORTS jumps and filter rejects: written for every Service on every sync. */
function dispatchOf(p: ServicePlan): ServiceDispatch {
  const w: ServiceDispatch = { nat: [], filter: [] };
  const { info, cat } = p;
  const name = p.names.nameString;
  const proto = p.names.protocol;
  const internalChain = info.internalTrafficLocal ? p.svlChain : p.svcChain;
  const noEndpointsComment = cat.hasEndpoints ? `"${name} has no local endpoints"` : `"${name} has no endpoints"`;
  const internalFilterTarget = cat.hasEndpoints ? 'DROP' : 'REJECT';
  const externalFilterTarget = internalFilterTarget;

  if (cat.hasInternalEndpoints) {
    w.nat.push({
      target: internalChain,
      line: `-A ${KUBE_SERVICES} -d ${info.clusterIP}/32 -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${info.port} -j ${internalChain}`,
    });
  } else {
    w.filter.push(
      `-A ${KUBE_SERVICES} -d ${info.clusterIP}/32 -p ${proto} -m comment --comment ${noEndpointsComment} -m ${proto} --dport ${info.port} -j ${internalFilterTarget}`,
    );
  }

  const external: Array<[string, string]> = [];
  for (const ip of programmableAddresses(info.externalIPs)) external.push([ip, 'external IP']);
  for (const ip of programmableAddresses(info.loadBalancerIPs)) external.push([ip, 'loadbalancer IP']);
  for (const [ip, what] of external) {
    if (cat.hasEndpoints) {
      w.nat.push({
        target: p.extChain,
        line: `-A ${KUBE_SERVICES} -d ${ip}/32 -p ${proto} -m comment --comment "${name} ${what}" -m ${proto} --dport ${info.port} -j ${p.extChain}`,
      });
    }
    if (!cat.hasExternalEndpoints) {
      w.filter.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -d ${ip}/32 -p ${proto} -m comment --comment ${noEndpointsComment} -m ${proto} --dport ${info.port} -j ${externalFilterTarget}`,
      );
    }
  }

  if (info.nodePort !== 0) {
    if (cat.hasEndpoints) {
      w.nat.push({
        target: p.extChain,
        line: `-A ${KUBE_NODEPORTS} -p ${proto} -m comment --comment ${name} -m ${proto} --dport ${info.nodePort} -j ${p.extChain}`,
      });
    }
    if (!cat.hasExternalEndpoints) {
      w.filter.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -p ${proto} -m comment --comment ${noEndpointsComment} -m addrtype --dst-type LOCAL -m ${proto} --dport ${info.nodePort} -j ${externalFilterTarget}`,
      );
    }
  }
  return w;
}

/**
 * The Service's own chains: SVC/SVL spreading, EXT, SEP DNAT. Skipped for unchanged
 * Services in a partial sync. The lines are joined into one flat string per Service at
 * once: kept as separate template-literal ropes until the final join, 170,000 lines
 * of a 10,000-Service sync hold ~100 MB and make every scavenge copy them.
 */
function writeServiceChains(w: Writer, p: ServicePlan, state: ProxyState, largeCluster: boolean): void {
  for (const c of ownedChains(p)) w.natChains.push(`:${c} - [0:0]`);
  const rules: string[] = [];
  writeServiceChainRules(rules, p, state, largeCluster);
  if (rules.length === 0) return;
  w.natRules.push(rules.join('\n'));
  w.chunkedRules += rules.length;
  w.chunks++;
}

function writeServiceChainRules(rules: string[], p: ServicePlan, state: ProxyState, largeCluster: boolean): void {
  const { info, cat } = p;
  const name = p.names.nameString;
  const proto = p.names.protocol;

  if (cat.hasInternalEndpoints) {
    const internalChain = info.internalTrafficLocal ? p.svlChain : p.svcChain;
    // Off-cluster sources reaching a ClusterIP (a route to the service CIDR via this
    // node) must come back through us; without a known pod CIDR, masquerade all.
    const notFromPods = state.clusterCIDR ? ` ! -s ${state.clusterCIDR}` : '';
    rules.push(
      `-A ${internalChain} -d ${info.clusterIP}/32${notFromPods} -p ${proto} -m comment --comment "${name} cluster IP" -m ${proto} --dport ${info.port} -j ${KUBE_MARK_MASQ}`,
    );
  }

  if (p.usesExtChain) {
    const ext = p.extChain;
    if (!info.externalTrafficLocal) {
      rules.push(`-A ${ext} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`);
    } else {
      // Local policy keeps the client's address; but pods and the node itself are
      // short-circuited to all endpoints, as if they had gone out to a load balancer.
      if (state.clusterCIDR) {
        rules.push(`-A ${ext} -s ${state.clusterCIDR} -m comment --comment "pod traffic for ${name} external destinations" -j ${p.svcChain}`);
      }
      rules.push(
        `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      rules.push(`-A ${ext} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${p.svcChain}`);
    }
    if (cat.hasExternalEndpoints) {
      rules.push(`-A ${ext} -j ${info.externalTrafficLocal ? p.svlChain : p.svcChain}`);
    }
  }

  if (p.usesClusterChain) writeSpreading(rules, p, p.svcChain, cat.cluster, name, largeCluster);
  if (p.usesLocalChain) writeSpreading(rules, p, p.svlChain, cat.local, name, largeCluster);

  const sticky = info.stickySeconds > 0;
  const sepComment = largeCluster ? '' : ` -m comment --comment ${name}`;
  for (let i = 0; i < cat.reachable.length; i++) {
    const ep = cat.reachable[i]!;
    const sep = p.sepChains[i]!;
    rules.push(`-A ${sep} -s ${ep.ip}/32${sepComment} -j ${KUBE_MARK_MASQ}`);
    const remember = sticky ? ` -m recent --name ${sep} --set` : '';
    rules.push(`-A ${sep} -p ${proto}${sepComment}${remember} -m ${proto} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
  }
}

function writeSpreading(rules: string[], p: ServicePlan, chain: string, endpoints: EndpointInfo[], name: string, largeCluster: boolean): void {
  const { info, names } = p;
  const sepOf = (ep: EndpointInfo) => names.endpoint(ep.ip, ep.port);
  const comment = (ep: EndpointInfo) => (largeCluster ? '' : ` -m comment --comment "${name} -> ${endpointString(ep)}"`);
  if (info.stickySeconds > 0) {
    for (const ep of endpoints) {
      const sep = sepOf(ep);
      rules.push(`-A ${chain}${comment(ep)} -m recent --name ${sep} --rcheck --seconds ${info.stickySeconds} --reap -j ${sep}`);
    }
  }
  const n = endpoints.length;
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i]!;
    const spread = i < n - 1 ? ` -m statistic --mode random --probability ${iptablesProbability(n - i)}` : '';
    rules.push(`-A ${chain}${comment(ep)}${spread} -j ${sepOf(ep)}`);
  }
}

/**
 * The whole ruleset (full sync) or the fixed chains plus the chains of `changed`
 * Services (partial sync), with stale per-Service chains deleted. A Service whose
 * chains are not all in `previousChains` is rewritten even if not listed as changed,
 * so a partial sync can never jump to a chain that does not exist.
 */
export function buildIptablesRules(state: ProxyState, options: IptablesSyncOptions = {}): IptablesRules {
  const { changed, previousChains } = options;
  const full = changed === undefined;
  const w: Writer = { natChains: [], dispatch: [], natRules: [], filterRules: [], chains: new Set(), chunkedRules: 0, chunks: 0 };
  const skipped: string[] = [];

  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) {
    w.natChains.push(`:${c} - [0:0]`);
    w.chains.add(c);
  }
  w.natRules.push(
    `-A ${KUBE_POSTROUTING} -m mark ! --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j RETURN`,
    // Clear the bit so a packet that traverses the stack again is not masqueraded twice.
    `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${MASQUERADE_MARK}`,
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${MASQUERADE_MARK}`,
  );

  const keys = [...state.services.keys()].sort();
  let totalEndpoints = 0;
  for (const info of state.services.values()) totalEndpoints += info.endpoints.length;
  const largeCluster = totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;

  for (const key of keys) {
    const info = state.services.get(key)!;
    if (!isProgrammableServicePort(info)) {
      if (info.clusterIP !== 'None' && info.clusterIP !== '') skipped.push(key);
      continue;
    }
    const { plan, owned, dispatch } = plannedService(key, info);
    for (const c of owned) w.chains.add(c);
    for (const d of dispatch.nat) w.dispatch.push(d);
    for (const f of dispatch.filter) w.filterRules.push(f);
    let rewrite = full || changed.has(key);
    if (!rewrite && previousChains) {
      for (const c of owned) if (!previousChains.has(c)) rewrite = true;
    }
    if (rewrite) writeServiceChains(w, plan, state, largeCluster);
  }

  // Distinct addresses and ports: their order within the chain does not matter.
  w.dispatch.sort((a, b) => (a.target < b.target ? 1 : a.target > b.target ? -1 : 0));
  for (const d of w.dispatch) w.natRules.push(d.line);

  // Last in KUBE-SERVICES: anything addressed to the node itself may be a NodePort.
  // Loopback is excluded: localhost NodePorts need route_localnet, a known hole.
  const nodePortsComment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  const nodeIPs = programmableAddresses(state.nodeIPs);
  if (nodeIPs.length === 0) {
    w.natRules.push(`-A ${KUBE_SERVICES} ${nodePortsComment} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j ${KUBE_NODEPORTS}`);
  } else {
    for (const ip of nodeIPs) w.natRules.push(`-A ${KUBE_SERVICES} -d ${ip}/32 ${nodePortsComment} -j ${KUBE_NODEPORTS}`);
  }

  if (full) {
    w.natChains.push(`:${KUBE_PROXY_CANARY} - [0:0]`);
    w.natRules.push(`-A ${KUBE_PROXY_CANARY} ${IPTABLES_CANARY_RULE.join(' ')}`);
  }

  const deletions: string[] = [];
  if (previousChains) {
    for (const c of previousChains) {
      if (w.chains.has(c) || !isServiceChainName(c)) continue;
      // Declaring it flushes it, so the -X cannot fail on rules still inside it.
      w.natChains.push(`:${c} - [0:0]`);
      deletions.push(`-X ${c}`);
    }
  }

  const filterHead = ['*filter', `:${KUBE_SERVICES} - [0:0]`, `:${KUBE_EXTERNAL_SERVICES} - [0:0]`, `:${KUBE_FORWARD} - [0:0]`, `:${KUBE_NODEPORTS} - [0:0]`];
  if (full) filterHead.push(`:${KUBE_PROXY_CANARY} - [0:0]`);
  w.filterRules.push(
    // Marked traffic is Service traffic DNATed here: forward it even under a DROP policy.
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j ACCEPT`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  if (full) w.filterRules.push(`-A ${KUBE_PROXY_CANARY} ${IPTABLES_CANARY_RULE.join(' ')}`);

  const tail = deletions.length > 0 ? `${deletions.join('\n')}\nCOMMIT\n` : 'COMMIT\n';
  const nat = `*nat\n${full ? '-S\n' : ''}${w.natChains.join('\n')}\n${w.natRules.join('\n')}\n${tail}`;
  const filter = `${filterHead.join('\n')}\n${w.filterRules.join('\n')}\nCOMMIT\n`;
  return {
    nat,
    filter,
    chains: w.chains,
    ruleCount: w.natRules.length - w.chunks + w.chunkedRules + w.filterRules.length,
    skipped,
    full,
  };
}
