// Stale UDP conntrack entries. UDP has no connection to end: a client that keeps
// sending to a ClusterIP keeps refreshing the entry that NATs it to an endpoint that
// is gone (or, for a Service that had no endpoints, the entry of the rejected packets),
// and new rules never see its packets. kube-proxy deletes those entries after a sync;
// so do we, with the conntrack tool.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { categorizeEndpoints } from './endpoint-selection.js';
import { HostCommandError, hostCommands, type CommandRunner } from './host-command.js';
import type { ServicePortInfo } from './service-model.js';

/** Which UDP entries to delete; every given field must match, at least one is required. */
export interface UdpConntrackFilter {
  /** The original destination (a ClusterIP, external or load-balancer IP). */
  serviceIP?: string;
  /** The original destination port (the Service port or a NodePort). */
  port?: number;
  /** The address the entry was DNATed to (an endpoint). */
  endpointIP?: string;
}

export class ConntrackFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConntrackFilterError';
  }
}

/** The conntrack(8) arguments for one filter. */
export function conntrackDeleteArgs(filter: UdpConntrackFilter): string[] {
  const args = ['-D', '-p', 'udp'];
  if (filter.serviceIP !== undefined) args.push('--orig-dst', filter.serviceIP);
  if (filter.port !== undefined) {
    if (!Number.isInteger(filter.port) || filter.port < 1 || filter.port > 65535) {
      throw new ConntrackFilterError(`conntrack filter: port ${filter.port} is not a port number (1-65535)`);
    }
    args.push('--orig-port-dst', String(filter.port));
  }
  if (filter.endpointIP !== undefined) args.push('--dst-nat', filter.endpointIP);
  if (args.length === 3) {
    // An empty filter would delete every UDP flow on the node, DNS included.
    throw new ConntrackFilterError('conntrack filter: give at least one of serviceIP, port or endpointIP');
  }
  return args;
}

/**
 * Deletes the UDP entries matching `filter`; returns how many went. conntrack exits 1
 * with "0 flow entries have been deleted" when nothing matched: that is success.
 */
export async function clearUdpConntrack(filter: UdpConntrackFilter, runner: CommandRunner = hostCommands): Promise<number> {
  const args = conntrackDeleteArgs(filter);
  const r = await runner.run('conntrack', args);
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(r.stderr + r.stdout);
  if (m && (r.code === 0 || r.code === 1)) return Number(m[1]);
  if (r.code === 0) return 0;
  throw new HostCommandError('conntrack', args, r);
}

/**
 * The filters for the entries one UDP Service port's change leaves stale
 * (kube-proxy's deleteUDPEndpointConnections and staleServiceNames):
 * - each endpoint no longer used: entries NATed to it, for the ClusterIP, every
 *   external/load-balancer IP and the NodePort;
 * - a Service that had no endpoints and now has some: every entry to its addresses,
 *   which until now only recorded rejected packets.
 * `before`/`after` undefined = the Service did not exist / no longer exists.
 */
export function staleUdpConntrackFilters(before: ServicePortInfo | undefined, after: ServicePortInfo | undefined): UdpConntrackFilter[] {
  const info = after ?? before;
  if (info?.name.protocol !== 'UDP') return [];
  const used = (s: ServicePortInfo | undefined) => {
    if (!s || s.clusterIP === 'None' || s.clusterIP === '') return new Set<string>();
    return new Set(categorizeEndpoints(s).reachable.map((ep) => ep.ip));
  };
  const oldIPs = used(before);
  const newIPs = used(after);
  const out: UdpConntrackFilter[] = [];
  const addresses = (s: ServicePortInfo) => [s.clusterIP, ...s.externalIPs, ...s.loadBalancerIPs].filter((ip) => ip !== 'None' && ip !== '');

  if (before) {
    for (const ip of oldIPs) {
      if (newIPs.has(ip)) continue;
      for (const addr of addresses(before)) out.push({ serviceIP: addr, port: before.port, endpointIP: ip });
      if (before.nodePort !== 0) out.push({ port: before.nodePort, endpointIP: ip });
    }
  }
  if (after && oldIPs.size === 0 && newIPs.size > 0) {
    for (const addr of addresses(after)) out.push({ serviceIP: addr, port: after.port });
    if (after.nodePort !== 0) out.push({ port: after.nodePort });
  }
  return out;
}

/** Runs the filters one by one; a missing conntrack tool is reported once, not per sync. */
export class UdpConntrackCleaner {
  private warnedMissing = false;

  constructor(
    private readonly runner: CommandRunner = hostCommands,
    private readonly logger: Logger = silentLogger,
  ) {}

  async clear(filters: UdpConntrackFilter[]): Promise<void> {
    for (const filter of filters) {
      try {
        const n = await clearUdpConntrack(filter, this.runner);
        if (n > 0) this.logger.debug({ ...filter, deleted: n }, 'deleted stale UDP conntrack entries');
      } catch (err) {
        if (err instanceof HostCommandError && err.result.code === 127) {
          if (!this.warnedMissing) this.logger.warn('conntrack tool not found: stale UDP flows to removed endpoints are not cleared');
          this.warnedMissing = true;
          return;
        }
        this.logger.warn({ err, ...filter }, 'could not delete stale UDP conntrack entries');
      }
    }
  }
}
