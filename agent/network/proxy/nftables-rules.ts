// The nftables backend's ruleset, after kube-proxy's nftables mode
// (pkg/proxy/nftables/proxier.go): one table of our own, one verdict-map dispatch on
// address . protocol . port, `numgen random` spreading, affinity sets with timeouts;
// but with the endpoints written into each Service's own chain (see planService), not
// a chain per endpoint behind an anonymous vmap, because of what that costs the kernel
// at 10,000 Services.
// Pure: ProxyState (+ the record of what the last successful transaction left in the
// kernel) in, `nft -f -` input and the new record out. Nothing is read back from the
// kernel; the applier keeps `state` only when its transaction succeeded.
import { categorizeEndpoints, isProgrammableServicePort, programmableAddresses } from './endpoint-selection.js';
import { NFT_AFFINITY_SET_PREFIX, NFT_EXTERNAL_CHAIN_PREFIX, NFT_LOCAL_CHAIN_PREFIX, NFT_SERVICE_CHAIN_PREFIX, serviceChainNames } from './chain-names.js';
import { MapDelta } from './map-delta.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from './service-model.js';

export const NFT_FAMILY = 'ip';
export const NFT_TABLE = 'nodelet';
const T = `${NFT_FAMILY} ${NFT_TABLE}`;

export const NFT_MASQUERADE_MARK = '0x4000';

export type NftMapName = 'service-ips' | 'service-nodeports' | 'no-endpoint-services' | 'no-endpoint-nodeports';
const MAPS: ReadonlyArray<{ name: NftMapName; type: string; comment: string }> = [
  { name: 'service-ips', type: 'ipv4_addr . inet_proto . inet_service : verdict', comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic' },
  { name: 'service-nodeports', type: 'inet_proto . inet_service : verdict', comment: 'NodePort traffic' },
  { name: 'no-endpoint-services', type: 'ipv4_addr . inet_proto . inet_service : verdict', comment: 'drop or reject packets to services with no endpoints' },
  { name: 'no-endpoint-nodeports', type: 'inet_proto . inet_service : verdict', comment: 'drop or reject packets to NodePorts with no endpoints' },
];

const REJECT_CHAIN = 'reject-chain';
/** Marks a packet for masquerading on its way out (the nat-postrouting hook). */
const MARK_MASQ = `meta mark set meta mark or ${NFT_MASQUERADE_MARK}`;
const ELEMENTS_PER_STATEMENT = 1000;

/** One map element a Service owns: `key` and `value` exactly as written in the script. */
export interface NftElement {
  map: NftMapName;
  key: string;
  value: string;
}

/** What one Service port has in the kernel. */
export interface NftServiceRecord {
  /** Its regular chains (service-, local-, external-). */
  chains: string[];
  /** Affinity set name → timeout in seconds. */
  affinitySets: Map<string, number>;
  /** The map elements it owns (a conflicting claim on an element goes to the first owner). */
  elements: NftElement[];
}

/** The in-memory record of our table in the kernel, as left by the last successful transaction. */
export interface NftablesState {
  /** The table-wide settings the base rules were written for; a change forces a full sync. */
  config: string;
  services: Map<string, NftServiceRecord>;
  /** `map key` → owning service key, so two Services claiming one address:port never delete each other's element. */
  owners: Map<string, string>;
  /** Chains emptied by this transaction and referenced by nothing; the next cleanupScript deletes them. */
  staleChains: Set<string>;
}

export interface NftablesSyncOptions {
  /** Service keys whose chains and elements are rewritten; absent = full sync. */
  changed?: Set<string>;
  /** The state returned with the last transaction that succeeded; absent = the table is (re)created from nothing. */
  previous?: NftablesState;
}

export interface NftablesRuleset {
  /** The transaction for `nft -f -`. */
  script: string;
  /**
   * Deletes chains an earlier sync emptied ('' if none). Run it (as its own `nft -f -`)
   * before `script`; it may fail harmlessly. It is separate because kernels before 6.2
   * notice only a moment later that a chain is no longer referenced from a verdict map,
   * so deleting it in the transaction that removed the reference fails with EBUSY
   * (kube-proxy defers these deletes the same way).
   */
  cleanupScript: string;
  /** The record of the table once `script` has succeeded (a new object; `previous` is left alone). */
  readonly state: NftablesState;
  /**
   * The same record, made by changing `previous` in place (cheaper at scale). Only for
   * the one holder of `previous`, once `script` succeeded; `previous` is not to be used
   * afterwards except as the returned record.
   */
  adopt(): NftablesState;
  full: boolean;
  /** `add rule` statements in `script`. */
  ruleCount: number;
  /** Service keys left out because the port is not programmable. */
  skipped: string[];
}

function configOf(state: ProxyState): string {
  return `nodeIPs=${state.nodeIPs.join(',')};clusterCIDR=${state.clusterCIDR ?? ''};serviceCIDR=${state.serviceCIDR}`;
}

// ---- per Service ----

interface ServicePlan {
  record: NftServiceRecord;
  /** Desired elements before conflict resolution. */
  wanted: NftElement[];
  /**
   * The Service's `add rule` lines joined into one flat string ('' if none): kept as
   * separate template-literal ropes until the final join, the lines of a 10,000-Service
   * sync hold ~100 MB and make every scavenge copy them.
   */
  rules: string;
  ruleCount: number;
}

function planService(info: ServicePortInfo, state: ProxyState): ServicePlan {
  const names = serviceChainNames(info.name);
  const base = names.nftBase;
  const proto = names.protocol;
  const svcChain = NFT_SERVICE_CHAIN_PREFIX + base;
  const localChain = NFT_LOCAL_CHAIN_PREFIX + base;
  const extChain = NFT_EXTERNAL_CHAIN_PREFIX + base;
  const cat = categorizeEndpoints(info);
  const usesClusterChain = cat.cluster.length > 0 && cat.usesClusterEndpoints;
  const usesLocalChain = cat.local.length > 0 && cat.usesLocalEndpoints;
  const usesExtChain = cat.hasEndpoints && cat.externallyAccessible;
  const internalChain = info.internalTrafficLocal ? localChain : svcChain;
  const noEndpointsVerdict = cat.hasEndpoints ? 'drop' : `goto ${REJECT_CHAIN}`;
  const sticky = info.stickySeconds > 0;

  const chains: string[] = [];
  if (usesClusterChain) chains.push(svcChain);
  if (usesLocalChain) chains.push(localChain);
  if (usesExtChain) chains.push(extChain);
  const affinitySet = (ep: EndpointInfo) => NFT_AFFINITY_SET_PREFIX + names.nftEndpointBase(ep.ip, ep.port);
  const affinitySets = new Map<string, number>();
  if (sticky) for (const ep of cat.reachable) affinitySets.set(affinitySet(ep), info.stickySeconds);

  const wanted: NftElement[] = [];
  const ipKey = (ip: string) => `${ip} . ${proto} . ${info.port}`;
  if (cat.hasInternalEndpoints) wanted.push({ map: 'service-ips', key: ipKey(info.clusterIP), value: `goto ${internalChain}` });
  else wanted.push({ map: 'no-endpoint-services', key: ipKey(info.clusterIP), value: noEndpointsVerdict });
  for (const ip of [...programmableAddresses(info.externalIPs), ...programmableAddresses(info.loadBalancerIPs)]) {
    if (cat.hasEndpoints) wanted.push({ map: 'service-ips', key: ipKey(ip), value: `goto ${extChain}` });
    if (!cat.hasExternalEndpoints) wanted.push({ map: 'no-endpoint-services', key: ipKey(ip), value: noEndpointsVerdict });
  }
  if (info.nodePort !== 0) {
    const key = `${proto} . ${info.nodePort}`;
    if (cat.hasEndpoints) wanted.push({ map: 'service-nodeports', key, value: `goto ${extChain}` });
    if (!cat.hasExternalEndpoints) wanted.push({ map: 'no-endpoint-nodeports', key, value: noEndpointsVerdict });
  }

  const rules: string[] = [];
  const rule = (chain: string, body: string) => rules.push(`add rule ${T} ${chain} ${body}`);
  if (usesExtChain) {
    if (!info.externalTrafficLocal) {
      rule(extChain, MARK_MASQ);
    } else {
      // Local policy keeps the client's address; pods and the node itself are
      // short-circuited to all endpoints, as if they had gone out to a load balancer.
      if (state.clusterCIDR) rule(extChain, `ip saddr ${state.clusterCIDR} goto ${svcChain} comment "short-circuit pod traffic"`);
      rule(extChain, `fib saddr type local ${MARK_MASQ} comment "masquerade local traffic"`);
      rule(extChain, `fib saddr type local goto ${svcChain} comment "short-circuit local traffic"`);
    }
    if (cat.hasExternalEndpoints) rule(extChain, `goto ${info.externalTrafficLocal ? localChain : svcChain}`);
  }
  // The endpoints are written into the Service's own chain, the i-th taken with
  // probability 1/(N-i) as iptables' statistic rules do. A local endpoint gets a pair of
  // rules, one for a client that is the endpoint itself (hairpin: masquerade, or its
  // reply would bypass the DNAT) and one for any other; exactly one of the pair matches a
  // packet, so the endpoint is still drawn once. Only a pod on this node (or this node)
  // can be its own client, so remote endpoints need no pair.
  // kube-proxy's layout (a chain per endpoint, reached through one anonymous numgen vmap)
  // costs the kernel far more at scale: binding each anonymous set walks the whole
  // transaction (minutes for a 10,000-Service full sync); every nft run dumps all chains
  // for its cache; and every transaction with a rule re-validates every rule reachable
  // from the hooks. At 10,000 Services a one-Service change took 0.68 s that way.
  const dnat = (ep: EndpointInfo, match: string): string[] => {
    const l4 = `meta l4proto ${proto} `;
    const to = `${sticky ? `update @${affinitySet(ep)} { ip saddr } ` : ''}dnat to ${ep.ip}:${ep.port}`;
    if (!ep.isLocal) return [`${match}${l4}${to}`];
    return [`ip saddr ${ep.ip} ${match}${l4}${MARK_MASQ} ${to}`, `ip saddr != ${ep.ip} ${match}${l4}${to}`];
  };
  const spread = (chain: string, endpoints: EndpointInfo[]) => {
    if (sticky) for (const ep of endpoints) for (const r of dnat(ep, `ip saddr @${affinitySet(ep)} `)) rule(chain, r);
    endpoints.forEach((ep, i) => {
      const left = endpoints.length - i;
      for (const r of dnat(ep, left > 1 ? `numgen random mod ${left} 0 ` : '')) rule(chain, r);
    });
  };
  if (usesClusterChain) spread(svcChain, cat.cluster);
  if (usesLocalChain) spread(localChain, cat.local);
  return { record: { chains, affinitySets, elements: [] }, wanted, rules: rules.join('\n'), ruleCount: rules.length };
}

function ownerKey(e: Pick<NftElement, 'map' | 'key'>): string {
  return `${e.map} ${e.key}`;
}

/**
 * Gives `plan` the elements nobody holds; the first claim wins. The Service's own
 * earlier claims were released by the caller, so a held key is another Service's or a
 * duplicate within this one (an address listed twice), and a map can hold a key once.
 */
function claimElements(plan: ServicePlan, serviceKey: string, owners: Map<string, string> | MapDelta<string, string>): void {
  for (const e of plan.wanted) {
    const k = ownerKey(e);
    if (owners.has(k)) continue;
    owners.set(k, serviceKey);
    plan.record.elements.push(e);
  }
}

// ---- script assembly ----

function setDefinition(name: string, timeout: number): string {
  return `add set ${T} ${name} { type ipv4_addr ; flags dynamic,timeout ; timeout ${timeout}s ; }`;
}

function elementStatements(verb: 'add' | 'delete', elements: NftElement[], out: string[]): void {
  for (const { name } of MAPS) {
    const items = elements.filter((e) => e.map === name).map((e) => (verb === 'add' ? `${e.key} : ${e.value}` : e.key));
    for (let i = 0; i < items.length; i += ELEMENTS_PER_STATEMENT) {
      out.push(`${verb} element ${T} ${name} { ${items.slice(i, i + ELEMENTS_PER_STATEMENT).join(', ')} }`);
    }
  }
}

function cleanupScriptFor(stale: Iterable<string>, wanted: (chain: string) => boolean): string {
  const lines: string[] = [];
  for (const c of stale) {
    if (wanted(c)) continue;
    // add+delete: deleting a chain that is already gone must not fail the batch.
    lines.push(`add chain ${T} ${c}`, `delete chain ${T} ${c}`);
  }
  return lines.length === 0 ? '' : `add table ${T}\n${lines.join('\n')}\n`;
}

/** The table, its base chains, maps and the dispatch rules that never depend on Services. */
function tableSkeleton(state: ProxyState, fresh: boolean, head: string[], rules: string[]): void {
  if (fresh) head.push(`add table ${T}`, `delete table ${T}`);
  head.push(`add table ${T} { comment "nodelet Service proxy" ; }`);
  if (!fresh) head.push(`flush table ${T}`);
  // Filter hooks run before DNAT (dstnat - 10) so the rejects see the Service address.
  head.push(
    `add chain ${T} filter-input { type filter hook input priority -110 ; policy accept ; }`,
    `add chain ${T} filter-forward { type filter hook forward priority -110 ; policy accept ; }`,
    `add chain ${T} filter-output { type filter hook output priority -110 ; policy accept ; }`,
    `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; policy accept ; }`,
    `add chain ${T} nat-output { type nat hook output priority -100 ; policy accept ; }`,
    `add chain ${T} nat-postrouting { type nat hook postrouting priority 100 ; policy accept ; }`,
  );
  for (const c of ['services', 'service-endpoints-check', 'nodeport-endpoints-check', 'masquerading', REJECT_CHAIN]) {
    head.push(`add chain ${T} ${c}`);
  }
  for (const m of MAPS) head.push(`add map ${T} ${m.name} { type ${m.type} ; comment "${m.comment}" ; }`);
  if (!fresh) for (const m of MAPS) head.push(`flush map ${T} ${m.name}`);

  const nodeIPs = programmableAddresses(state.nodeIPs);
  const nodeAddress = nodeIPs.length === 0 ? 'fib daddr type local ip daddr != 127.0.0.0/8' : `ip daddr { ${nodeIPs.join(', ')} }`;
  const r = (chain: string, body: string) => rules.push(`add rule ${T} ${chain} ${body}`);
  r('filter-input', 'ct state new jump nodeport-endpoints-check');
  r('filter-input', 'ct state new jump service-endpoints-check');
  r('filter-forward', 'ct state new jump service-endpoints-check');
  r('filter-output', 'ct state new jump service-endpoints-check');
  r('nat-prerouting', 'jump services');
  r('nat-output', 'jump services');
  r('nat-postrouting', 'jump masquerading');
  r('masquerading', `mark and ${NFT_MASQUERADE_MARK} == 0 return`);
  // Clear the bit so a packet that traverses the stack again is not masqueraded twice.
  r('masquerading', `mark set mark xor ${NFT_MASQUERADE_MARK}`);
  r('masquerading', 'masquerade fully-random');
  r(REJECT_CHAIN, 'reject');
  r('service-endpoints-check', 'ip daddr . meta l4proto . th dport vmap @no-endpoint-services');
  r('nodeport-endpoints-check', `${nodeAddress} meta l4proto . th dport vmap @no-endpoint-nodeports`);
  // Off-cluster sources reaching a ClusterIP must come back through us (without a known
  // pod CIDR, masquerade all). One rule for the whole service CIDR instead of kube-proxy's
  // one per Service: every programmed ClusterIP lies in it, addresses without a Service
  // are rejected or dropped anyway, and each rule in a Service chain is walked again by
  // the kernel's validation of every later transaction.
  const notFromPods = state.clusterCIDR ? ` ip saddr != ${state.clusterCIDR}` : '';
  r('services', `ip daddr ${state.serviceCIDR}${notFromPods} ${MARK_MASQ}`);
  r('services', 'ip daddr . meta l4proto . th dport vmap @service-ips');
  r('services', `${nodeAddress} meta l4proto . th dport vmap @service-nodeports`);
}

function programmable(state: ProxyState, key: string, skipped: string[]): ServicePortInfo | undefined {
  const info = state.services.get(key);
  if (!info) return undefined;
  if (isProgrammableServicePort(info)) return info;
  if (info.clusterIP !== 'None' && info.clusterIP !== '') skipped.push(key);
  return undefined;
}

/** Chains of `before` that `after` (the same Service's new record) no longer has. */
function droppedChains(before: NftServiceRecord, after: NftServiceRecord | undefined): string[] {
  if (!after || after.chains.length === 0) return before.chains;
  const a = before.chains;
  const b = after.chains;
  if (a.length === b.length && a.every((c, i) => c === b[i])) return [];
  const kept = new Set(b);
  return a.filter((c) => !kept.has(c));
}

function fullSync(state: ProxyState, previous: NftablesState | undefined): NftablesRuleset {
  const head: string[] = [];
  const rules: string[] = [];
  const skipped: string[] = [];
  const fresh = previous === undefined;
  tableSkeleton(state, fresh, head, rules);
  let ruleCount = rules.length;

  const services = new Map<string, NftServiceRecord>();
  const owners = new Map<string, string>();
  const elements: NftElement[] = [];
  // One flat string per Service, for the same reason as ServicePlan.rules.
  const chainLines: string[] = [];
  const setLines: string[] = [];
  const wantedSets = new Map<string, number>();
  for (const key of [...state.services.keys()].sort()) {
    const info = programmable(state, key, skipped);
    if (!info) continue;
    const plan = planService(info, state);
    claimElements(plan, key, owners);
    services.set(key, plan.record);
    if (plan.record.chains.length > 0) chainLines.push(plan.record.chains.map((c) => `add chain ${T} ${c}`).join('\n'));
    for (const [name, timeout] of plan.record.affinitySets) wantedSets.set(name, timeout);
    if (plan.ruleCount > 0) rules.push(plan.rules);
    ruleCount += plan.ruleCount;
    for (const e of plan.record.elements) elements.push(e);
  }

  const staleChains = new Set<string>();
  let cleanupScript = '';
  if (previous) {
    // `flush table` emptied every chain and dropped every reference to them; sets keep
    // their members (live affinity survives a full sync) unless they are gone or changed.
    for (const [key, rec] of previous.services) {
      for (const c of droppedChains(rec, services.get(key))) staleChains.add(c);
      for (const [name, timeout] of rec.affinitySets) {
        if (wantedSets.get(name) !== timeout) setLines.push(`delete set ${T} ${name}`);
      }
    }
    if (previous.staleChains.size > 0) {
      const wanted = new Set<string>();
      for (const rec of services.values()) for (const c of rec.chains) wanted.add(c);
      cleanupScript = cleanupScriptFor(previous.staleChains, (c) => wanted.has(c));
    }
  }
  for (const [name, timeout] of wantedSets) setLines.push(setDefinition(name, timeout));

  const elementLines: string[] = [];
  elementStatements('add', elements, elementLines);
  const sections = [head, chainLines, setLines, rules, elementLines].filter((lines) => lines.length > 0);
  const record: NftablesState = { config: configOf(state), services, owners, staleChains };
  return {
    script: `${sections.map((lines) => lines.join('\n')).join('\n')}\n`,
    cleanupScript,
    state: record,
    adopt: () => record,
    full: true,
    ruleCount,
    skipped,
  };
}

function partialSync(state: ProxyState, previous: NftablesState, changed: Set<string>): NftablesRuleset {
  const skipped: string[] = [];
  const services = new MapDelta(previous.services);
  const owners = new MapDelta(previous.owners);
  const staleChains = new Set<string>();

  // New and removed Services are changes whatever the caller says: a partial sync must
  // never leave a dispatch element without its chains or chains without their element.
  const keys = new Set(changed);
  for (const key of state.services.keys()) if (!previous.services.has(key)) keys.add(key);
  for (const key of previous.services.keys()) if (!state.services.has(key)) keys.add(key);

  const chainLines: string[] = [];
  const flushLines: string[] = [];
  const setDeletes: string[] = [];
  const setAdds: string[] = [];
  const rules: string[] = [];
  let ruleCount = 0;
  const removedElements: NftElement[] = [];
  const addedElements: NftElement[] = [];
  const revived = new Set<string>();

  for (const key of [...keys].sort()) {
    const old = previous.services.get(key);
    const info = programmable(state, key, skipped);
    if (!old && !info) continue;
    if (old) for (const e of old.elements) if (owners.get(ownerKey(e)) === key) owners.delete(ownerKey(e));
    const plan = info ? planService(info, state) : undefined;
    if (plan) {
      claimElements(plan, key, owners);
      services.set(key, plan.record);
    } else services.delete(key);

    const newChains = new Set(plan?.record.chains ?? []);
    for (const c of newChains) {
      chainLines.push(`add chain ${T} ${c}`);
      flushLines.push(`flush chain ${T} ${c}`);
      if (previous.staleChains.has(c)) revived.add(c);
    }
    for (const c of old?.chains ?? []) {
      if (newChains.has(c)) continue;
      flushLines.push(`flush chain ${T} ${c}`);
      staleChains.add(c);
    }

    const newSets = plan?.record.affinitySets ?? new Map<string, number>();
    const oldSets = old?.affinitySets ?? new Map<string, number>();
    for (const [name, timeout] of oldSets) if (newSets.get(name) !== timeout) setDeletes.push(`delete set ${T} ${name}`);
    for (const [name, timeout] of newSets) if (oldSets.get(name) !== timeout) setAdds.push(setDefinition(name, timeout));

    if (plan && plan.ruleCount > 0) {
      rules.push(plan.rules);
      ruleCount += plan.ruleCount;
    }

    const oldElements = new Map((old?.elements ?? []).map((e) => [ownerKey(e), e]));
    const newElements = new Map((plan?.record.elements ?? []).map((e) => [ownerKey(e), e]));
    for (const [k, e] of oldElements) {
      const now = newElements.get(k);
      if (!now || now.value !== e.value) removedElements.push(e);
    }
    for (const [k, e] of newElements) {
      const before = oldElements.get(k);
      if (!before || before.value !== e.value) addedElements.push(e);
    }
  }

  const elementLines: string[] = [];
  elementStatements('delete', removedElements, elementLines);
  elementStatements('add', addedElements, elementLines);
  // Order matters inside the transaction: chains exist before anything names them;
  // flushes drop the old references before a set they used is deleted.
  const body = [...chainLines, ...flushLines, ...setDeletes, ...setAdds, ...rules, ...elementLines];
  const script = body.length === 0 ? '' : [`add table ${T}`, ...body, ''].join('\n');
  let copy: NftablesState | undefined;
  return {
    script,
    cleanupScript: cleanupScriptFor(previous.staleChains, (c) => revived.has(c)),
    get state() {
      copy ??= { config: previous.config, services: services.toMap(), owners: owners.toMap(), staleChains };
      return copy;
    },
    adopt: () => {
      services.applyTo(previous.services);
      owners.applyTo(previous.owners);
      return { config: previous.config, services: previous.services, owners: previous.owners, staleChains };
    },
    full: false,
    ruleCount,
    skipped,
  };
}

/**
 * A full sync (no `changed`, no `previous`, or table-wide settings changed since
 * `previous`) rewrites every rule: with `previous` as `add table` + `flush table` +
 * everything (map contents replaced, affinity sets kept); without it, the table is
 * deleted and created afresh in the same transaction. A partial sync touches only the
 * chains, sets and map elements of the changed Services and never lists the table.
 */
export function buildNftablesRuleset(state: ProxyState, options: NftablesSyncOptions = {}): NftablesRuleset {
  const { changed, previous } = options;
  if (changed === undefined || previous === undefined || previous.config !== configOf(state)) return fullSync(state, previous);
  return partialSync(state, previous, changed);
}

/** `nft -f -` input that removes everything this backend ever made. */
export function nftablesCleanupScript(): string {
  return `add table ${T}\ndelete table ${T}\n`;
}
