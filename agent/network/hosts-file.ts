// The /etc/hosts kubelet manages for every pod: bind-mounted into each container so
// the pod resolves its own name (and its hostAliases) without any DNS server.
import type { HostAlias } from '../api/types.js';

export const MANAGED_HOSTS_HEADER = '# Kubernetes-managed hosts file.\n';
export const MANAGED_HOSTS_HEADER_HOST_NETWORK = '# Kubernetes-managed hosts file (host network).\n';
/** A kernel hostname holds at most 64 bytes including the terminating NUL. */
export const MAX_HOSTNAME_LENGTH = 63;

export interface HostsFileInput {
  podIP: string;
  /** Every pod IP (dual stack); defaults to [podIP]. */
  podIPs?: string[];
  hostname: string;
  subdomain?: string;
  namespace: string;
  clusterDomain: string;
  hostAliases?: HostAlias[];
}

/**
 * Cuts a hostname to what the kernel accepts, then drops the trailing '-' and '.'
 * the cut may leave (a hostname must not end with them), as kubelet does.
 */
export function truncateHostname(hostname: string): string {
  if (hostname.length <= MAX_HOSTNAME_LENGTH) return hostname;
  return hostname.slice(0, MAX_HOSTNAME_LENGTH).replace(/[-.]+$/, '');
}

/** Hosts file of a pod on its own network: localhost entries, the pod's own names, its aliases. */
export function buildHostsFile(input: HostsFileInput): string {
  const hostname = truncateHostname(input.hostname);
  const ips = input.podIPs && input.podIPs.length > 0 ? input.podIPs : [input.podIP];
  let out = MANAGED_HOSTS_HEADER;
  out += '127.0.0.1\tlocalhost\n';
  out += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  out += 'fe00::0\tip6-localnet\n';
  out += 'fe00::0\tip6-mcastprefix\n';
  out += 'fe00::1\tip6-allnodes\n';
  out += 'fe00::2\tip6-allrouters\n';
  for (const ip of ips) {
    if (input.subdomain) {
      // The name a headless Service with the subdomain's name publishes for the pod.
      const fqdn = `${hostname}.${input.subdomain}.${input.namespace}.svc.${input.clusterDomain}`;
      out += `${ip}\t${fqdn}\t${hostname}\n`;
    } else {
      out += `${ip}\t${hostname}\n`;
    }
  }
  return out + hostAliasEntries(input.hostAliases);
}

/** Hosts file of a host-network pod: the node's own hosts file plus the pod's aliases. */
export function buildHostNetworkHostsFile(nodeHostsText: string, hostAliases?: HostAlias[]): string {
  return MANAGED_HOSTS_HEADER_HOST_NETWORK + nodeHostsText + hostAliasEntries(hostAliases);
}

function hostAliasEntries(hostAliases: HostAlias[] | undefined): string {
  if (!hostAliases || hostAliases.length === 0) return '';
  let out = '\n# Entries added by HostAliases.\n';
  for (const alias of hostAliases) {
    for (const name of alias.hostnames ?? []) out += `${alias.ip}\t${name}\n`;
  }
  return out;
}
