// The proxy's control loop: holds the desired Service model, works out which Services
// changed since the rules were last written, and has the backend sync them on the
// SyncRunner's schedule. Nothing is written before the inputs have synced once (an
// empty model would delete every Service's rules on a restart). After each sync it
// deletes the UDP conntrack entries the change left stale, and records metrics.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { realClock, type Clock } from '../../api/clock.js';
import { UdpConntrackCleaner, staleUdpConntrackFilters, type UdpConntrackFilter } from './conntrack.js';
import { categorizeEndpoints, endpointString } from './endpoint-selection.js';
import type { ProxyBackend } from './proxy-backend.js';
import { ProxyMetrics } from './proxy-metrics.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from './service-model.js';
import { SyncRunner } from './sync-runner.js';

export const DEFAULT_MIN_SYNC_MS = 1_000;
export const DEFAULT_MAX_SYNC_MS = 30_000;
/** kube-proxy forces a full sync once an hour; between them, syncs rewrite only what changed. */
export const DEFAULT_FULL_SYNC_MS = 3_600_000;

export interface ProxierOptions {
  backend: ProxyBackend;
  serviceCIDR: string;
  /** Addresses NodePorts answer on; [] = every local address but loopback. */
  nodeIPs: string[];
  /** This node's pod CIDR: ClusterIP traffic from outside it is masqueraded. */
  clusterCIDR?: string;
  clock?: Clock;
  logger?: Logger;
  metrics?: ProxyMetrics;
  minSyncMs?: number;
  maxSyncMs?: number;
  /** Longest time between two full syncs (default one hour, as kube-proxy). */
  fullSyncMs?: number;
  /** Deletes stale UDP flows after a sync; default: the conntrack tool on the host. */
  conntrack?: { clear(filters: UdpConntrackFilter[]): Promise<void> };
  /** The service CIDR's sink route, (re)ensured before each full sync. */
  serviceRoute?: { ensure(): Promise<void> };
  /** Removes what the other modes left (`start` runs it once, before any rule is written). */
  cleanupOtherModes?: () => Promise<void>;
}

/** One Service port as `nodelet rules` shows it. */
export interface ServiceRules {
  key: string;
  type: ServicePortInfo['type'];
  clusterIP: string;
  port: number;
  protocol: string;
  nodePort: number;
  externalIPs: string[];
  /** The endpoints the rules spread over, `ip:port`. */
  endpoints: string[];
  rules: string[];
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameEndpoint(a: EndpointInfo, b: EndpointInfo): boolean {
  return a.ip === b.ip && a.port === b.port && a.ready === b.ready && a.serving === b.serving && a.terminating === b.terminating && a.isLocal === b.isLocal;
}

/** Whether two versions of one Service port would produce the same rules. */
export function sameServicePort(a: ServicePortInfo | undefined, b: ServicePortInfo | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  if (a.name.namespace !== b.name.namespace || a.name.name !== b.name.name || a.name.port !== b.name.port || a.name.protocol !== b.name.protocol) return false;
  if (a.type !== b.type || a.clusterIP !== b.clusterIP || a.port !== b.port || a.nodePort !== b.nodePort) return false;
  if (a.stickySeconds !== b.stickySeconds || a.externalTrafficLocal !== b.externalTrafficLocal || a.internalTrafficLocal !== b.internalTrafficLocal)
    return false;
  if (!sameStrings(a.externalIPs, b.externalIPs) || !sameStrings(a.loadBalancerIPs, b.loadBalancerIPs)) return false;
  if (a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < a.endpoints.length; i++) if (!sameEndpoint(a.endpoints[i]!, b.endpoints[i]!)) return false;
  return true;
}

export class Proxier {
  private readonly backend: ProxyBackend;
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly metrics: ProxyMetrics;
  private readonly conntrack: { clear(filters: UdpConntrackFilter[]): Promise<void> };
  private readonly runner: SyncRunner;
  private readonly maxSyncMs: number;
  private nodeIPs: string[];
  private desired = new Map<string, ServicePortInfo>();
  /** The model the kernel holds: the last one a sync succeeded with. */
  private applied = new Map<string, ServicePortInfo>();
  private appliedOnce = false;
  private pendingChanged = new Set<string>();
  private started = false;
  private synced = false;
  private startTime?: number;
  private lastSuccess?: number;

  constructor(private readonly options: ProxierOptions) {
    this.backend = options.backend;
    this.clock = options.clock ?? realClock;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new ProxyMetrics();
    this.conntrack = options.conntrack ?? new UdpConntrackCleaner(undefined, this.logger);
    this.nodeIPs = [...options.nodeIPs];
    this.maxSyncMs = options.maxSyncMs ?? DEFAULT_MAX_SYNC_MS;
    this.runner = new SyncRunner({
      clock: this.clock,
      minIntervalMs: options.minSyncMs ?? DEFAULT_MIN_SYNC_MS,
      maxIntervalMs: this.maxSyncMs,
      fullIntervalMs: Math.max(this.maxSyncMs, options.fullSyncMs ?? DEFAULT_FULL_SYNC_MS),
      sync: (full) => this.sync(full),
      onFailure: (err, failures, retryInMs) => {
        this.logger.error({ err, mode: this.backend.mode, failures, retryInMs }, 'proxy sync failed; retrying with a full sync');
      },
    });
  }

  get mode(): ProxyBackend['mode'] {
    return this.backend.mode;
  }

  /**
   * The whole desired model (a fresh Map each call; its values are not mutated
   * afterwards). Changed Service keys are noted for the next partial sync.
   */
  update(services: ReadonlyMap<string, ServicePortInfo>): void {
    let changed = false;
    const next = new Map<string, ServicePortInfo>();
    for (const [key, info] of services) {
      const previous = this.desired.get(key);
      if (previous && sameServicePort(previous, info)) {
        // The same object as before for an unchanged Service: backends keep what they
        // derived from it (the iptables rules cache its dispatch per object).
        next.set(key, previous);
      } else {
        next.set(key, info);
        this.pendingChanged.add(key);
        changed = true;
      }
    }
    for (const key of this.desired.keys()) {
      if (!services.has(key)) {
        this.pendingChanged.add(key);
        changed = true;
      }
    }
    this.desired = next;
    if (changed) this.runner.request();
  }

  /** The node's addresses changed: every NodePort dispatch rule is rewritten. */
  setNodeIPs(nodeIPs: string[]): void {
    if (sameStrings(nodeIPs, this.nodeIPs)) return;
    this.nodeIPs = [...nodeIPs];
    this.runner.requestFull();
  }

  /** Services and endpoints have both been read once: rules may be written from now on. */
  setSynced(): void {
    this.synced = true;
    if (this.started) this.runner.start();
  }

  /**
   * Checks the backend can run (IPVS without the kernel module fails here), removes
   * what other modes left, and arms the sync loop. Returns without waiting for the
   * inputs: the first (full) sync runs once setSynced() has been called.
   */
  async start(): Promise<void> {
    if (this.started) return;
    await this.backend.start();
    if (this.options.cleanupOtherModes) {
      try {
        await this.options.cleanupOtherModes();
      } catch (err) {
        this.logger.warn({ err, mode: this.backend.mode }, 'could not remove the rules of other proxy modes');
      }
    }
    this.started = true;
    this.startTime = this.clock.now();
    if (this.synced) this.runner.start();
  }

  /** Stops syncing (the rules stay: traffic keeps flowing while the proxy restarts). */
  async stop(): Promise<void> {
    await this.runner.stop();
  }

  /** Wall-clock ms of the last successful sync. */
  lastSyncedAt(): number | undefined {
    return this.lastSuccess;
  }

  startedAt(): number | undefined {
    return this.startTime;
  }

  /** The Service keys the kernel has rules for, sorted. */
  serviceKeys(): string[] {
    return [...this.applied.keys()].sort();
  }

  /** One Service port as last synced: addresses, the endpoints used and the rules; undefined if unknown. */
  rulesFor(serviceKey: string): ServiceRules | undefined {
    const info = this.applied.get(serviceKey);
    if (!info) return undefined;
    const programmed = info.clusterIP !== 'None' && info.clusterIP !== '';
    return {
      key: serviceKey,
      type: info.type,
      clusterIP: info.clusterIP,
      port: info.port,
      protocol: info.name.protocol,
      nodePort: info.nodePort,
      externalIPs: [...info.externalIPs],
      endpoints: programmed ? categorizeEndpoints(info).reachable.map(endpointString) : [],
      rules: this.backend.describe(serviceKey),
    };
  }

  private async sync(full: boolean): Promise<void> {
    const changed = this.pendingChanged;
    this.pendingChanged = new Set();
    const desired = this.desired;
    const state: ProxyState = {
      services: desired,
      nodeIPs: this.nodeIPs,
      serviceCIDR: this.options.serviceCIDR,
      ...(this.options.clusterCIDR ? { clusterCIDR: this.options.clusterCIDR } : {}),
    };
    const t0 = performance.now();
    let result;
    try {
      if (full && this.options.serviceRoute) {
        // The route is a safety net, not a precondition: rules are still written without it.
        await this.options.serviceRoute.ensure().catch((err: unknown) => {
          this.logger.warn({ err, serviceCIDR: this.options.serviceCIDR }, 'could not route the service CIDR to the local sink interface');
        });
      }
      result = await this.backend.sync(state, full ? 'full' : changed);
    } catch (err) {
      for (const key of changed) this.pendingChanged.add(key);
      this.metrics.syncFailed();
      throw err;
    }
    const seconds = (performance.now() - t0) / 1000;
    const now = this.clock.now();
    this.metrics.observeSync(result.full ? 'full' : 'partial', seconds);
    this.metrics.addRulesWritten(result.rules);
    this.metrics.setLastSync(now);
    this.lastSuccess = now;

    const filters = this.appliedOnce ? this.staleConntrack(desired, result.full ? undefined : changed) : [];
    this.applied = desired;
    const first = !this.appliedOnce;
    this.appliedOnce = true;
    (first ? this.logger.info.bind(this.logger) : this.logger.debug.bind(this.logger))(
      { mode: this.backend.mode, sync: result.full ? 'full' : 'partial', services: desired.size, changed: changed.size, rules: result.rules, seconds },
      'proxy rules synced',
    );
    // After the rules: a deleted entry must be recreated by the new rules, not the old.
    if (filters.length > 0) await this.conntrack.clear(filters);
  }

  /**
   * UDP flows the sync left pointing at endpoints no longer used. Not on the first
   * sync: without a record of what was programmed before, every UDP flow would look
   * stale, and a restarted proxy must keep established flows.
   */
  private staleConntrack(desired: Map<string, ServicePortInfo>, changed: Set<string> | undefined): UdpConntrackFilter[] {
    const keys = changed ?? new Set([...this.applied.keys(), ...desired.keys()]);
    const out: UdpConntrackFilter[] = [];
    for (const key of keys) {
      const before = this.applied.get(key);
      const after = desired.get(key);
      if ((before ?? after)?.name.protocol !== 'UDP' || sameServicePort(before, after)) continue;
      for (const f of staleUdpConntrackFilters(before, after)) out.push(f);
    }
    return out;
  }
}
