// A pod's resolv.conf, computed as kubelet's DNS configurer does: a base from the
// pod's dnsPolicy (cluster DNS, the node's resolv.conf, or nothing), then the pod's
// own dnsConfig merged on top, then the resolver's limits applied.
import type { Pod, PodDNSConfig } from '../api/types.js';
import type { DNSConfig } from '../runtime/runtime.js';

/** glibc reads at most this many nameservers; kubelet drops the rest. */
export const MAX_NAMESERVERS = 3;
/** Kubernetes' expanded DNS config limits (the default since 1.28). */
export const MAX_SEARCH_PATHS = 32;
export const MAX_SEARCH_LIST_CHARS = 2048;
/** Some resolvers (glibc 2.28) abort on a longer search path; kubelet filters them out. */
const MAX_SEARCH_PATH_CHARS = 253;
const CLUSTER_FIRST_OPTIONS = ['ndots:5'];

export interface PodDNSOptions {
  /** kubelet's clusterDNS: the cluster's DNS service IPs (empty in standalone mode). */
  clusterDNS: string[];
  clusterDomain: string;
  /** Contents of the node's resolv.conf (config.resolvConf). */
  hostResolvConf: string;
}

export interface PodDNSResult {
  dns: DNSConfig;
  /** Operator-readable problems (reported as DNSConfigForming events). */
  warnings: string[];
}

/** Parses resolv.conf text: nameservers accumulate; the last `search` or `domain` line wins; options merge by name. */
export function parseResolvConf(text: string): DNSConfig {
  const servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...fields] = line.split(/\s+/);
    switch (keyword) {
      case 'nameserver':
        if (fields[0]) servers.push(fields[0]);
        break;
      case 'search':
      case 'domain':
        // `domain` is a one-entry search list; resolv.conf(5): the last of the two wins.
        // A trailing dot is dropped so "a.b." and "a.b" count once against the limits.
        searches = (keyword === 'domain' ? fields.slice(0, 1) : fields).map((s) => s.replace(/\.$/, '')).filter((s) => s !== '');
        break;
      case 'options':
        options = mergeOptions(options, fields.map(splitOption));
        break;
      default:
        break;
    }
  }
  return { servers, searches, options };
}

/** resolv.conf text for a DNSConfig, in the layout kubelet's runtimes write. */
export function formatResolvConf(dns: DNSConfig): string {
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

type Base = 'cluster' | 'host' | 'none';

export function buildPodDNS(pod: Pod, opts: PodDNSOptions): PodDNSResult {
  const warnings: string[] = [];
  const host = parseResolvConf(opts.hostResolvConf);
  const policy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  let base = baseForPolicy(policy, pod.spec.hostNetwork === true);
  if (base === undefined) {
    warnings.push(`invalid dnsPolicy "${policy}": using "ClusterFirst"`);
    base = 'cluster';
  }
  if (base === 'cluster' && opts.clusterDNS.length === 0) {
    warnings.push(
      `cluster DNS is not configured (clusterDNS is empty): cannot use "${policy}" policy, falling back to "Default"; the pod uses the node's resolv.conf`,
    );
    base = 'host';
  }

  let dns: DNSConfig;
  switch (base) {
    case 'none':
      dns = { servers: [], searches: [], options: [] };
      break;
    case 'cluster':
      // The cluster DNS server is the pod's only nameserver: it forwards what it
      // cannot answer to the node's upstreams itself.
      dns = {
        servers: [...opts.clusterDNS],
        searches: clusterSearches(pod, opts.clusterDomain, host.searches),
        options: [...CLUSTER_FIRST_OPTIONS],
      };
      break;
    case 'host':
      dns = host;
      if (pod.spec.hostNetwork !== true) warnings.push(...loopbackWarnings(host.servers));
      break;
  }

  if (pod.spec.dnsConfig) dns = mergeDNSConfig(dns, pod.spec.dnsConfig);
  return { dns: fitLimits(dns, warnings), warnings };
}

function baseForPolicy(policy: string, hostNetwork: boolean): Base | undefined {
  switch (policy) {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    // A host-network pod asking for ClusterFirst gets the node's DNS: only
    // ClusterFirstWithHostNet opts it into cluster DNS.
    case 'ClusterFirst':
      return hostNetwork ? 'host' : 'cluster';
    case 'Default':
      return 'host';
    default:
      return undefined;
  }
}

function clusterSearches(pod: Pod, clusterDomain: string, hostSearches: string[]): string[] {
  if (clusterDomain === '') return [...hostSearches];
  const ns = pod.metadata.namespace ?? 'default';
  return unique([`${ns}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain, ...hostSearches]);
}

/**
 * A loopback resolver on the node (systemd-resolved's 127.0.0.53) is unreachable
 * from the pod's own network namespace; say so instead of leaving DNS silently broken.
 */
function loopbackWarnings(servers: string[]): string[] {
  return servers
    .filter((s) => /^127\./.test(s) || s === '::1')
    .map(
      (s) =>
        `nameserver ${s} from the node's resolv.conf is a loopback address, unreachable from the pod's network; ` +
        'point resolvConf at a file listing the upstream servers (e.g. /run/systemd/resolve/resolv.conf)',
    );
}

/** The pod's dnsConfig on top of the base: servers and searches appended without duplicates, options by name with the pod's winning. */
export function mergeDNSConfig(base: DNSConfig, extra: PodDNSConfig): DNSConfig {
  return {
    servers: unique([...base.servers, ...(extra.nameservers ?? [])]),
    searches: unique([...base.searches, ...(extra.searches ?? [])]),
    options: mergeOptions(
      base.options,
      (extra.options ?? []).map((o) => ({ name: o.name, value: o.value ?? '' })),
    ),
  };
}

function fitLimits(dns: DNSConfig, warnings: string[]): DNSConfig {
  let servers = dns.servers;
  if (servers.length > MAX_NAMESERVERS) {
    servers = servers.slice(0, MAX_NAMESERVERS);
    warnings.push(`Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${servers.join(' ')}`);
  }

  let exceeded = false;
  let searches = dns.searches;
  if (searches.length > MAX_SEARCH_PATHS) {
    searches = searches.slice(0, MAX_SEARCH_PATHS);
    exceeded = true;
  }
  const fitting = searches.filter((s) => s.length <= MAX_SEARCH_PATH_CHARS);
  if (fitting.length !== searches.length) exceeded = true;
  searches = fitting;
  // Drop from the end until the search line fits: the cluster's own domains come first and stay.
  while (searches.length > 0 && searches.join(' ').length > MAX_SEARCH_LIST_CHARS) {
    searches = searches.slice(0, -1);
    exceeded = true;
  }
  if (exceeded) {
    warnings.push(`Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}`);
  }
  return { servers, searches, options: dns.options };
}

function splitOption(option: string): { name: string; value: string } {
  const colon = option.indexOf(':');
  return colon === -1 ? { name: option, value: '' } : { name: option.slice(0, colon), value: option.slice(colon + 1) };
}

/** Options merged by name, later ones replacing earlier ones in place; order otherwise kept. */
function mergeOptions(existing: string[], added: Array<{ name: string; value: string }>): string[] {
  const byName = new Map<string, string>();
  for (const o of existing.map(splitOption)) byName.set(o.name, o.value);
  for (const o of added) byName.set(o.name, o.value);
  return [...byName].map(([name, value]) => (value === '' ? name : `${name}:${value}`));
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
