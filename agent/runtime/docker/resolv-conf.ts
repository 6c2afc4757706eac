// A sandbox's resolv.conf from its DNSConfig. Pure. Written into the file Docker made
// for the sandbox, which every container joining the sandbox's network shares.
import type { DNSConfig } from '../runtime.js';

export function resolvConfContent(dns: DNSConfig): string {
  const lines = dns.servers.map((server) => `nameserver ${server}`);
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
