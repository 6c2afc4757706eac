// Standalone mode has no apiserver to give Services their ClusterIPs, so the proxy
// allocates them from serviceCIDR itself, as kube-apiserver would, and remembers
// them in <rootDir>/proxy/cluster-ips.json so a restart changes none of them.
//
// Like kube-apiserver, automatic allocation prefers the upper part of the range
// and leaves the lower band to Services that ask for a fixed address (a DNS at
// 10.96.0.10). Within the upper band each Service starts probing at a point
// derived from its name, so a Service that comes back after a removal usually
// gets its old address again.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { serviceClusterIPv4 } from './service-to-model.js';
import { DEFAULT_SERVICE_CIDR, formatIPv4, isAllocatableIP, parseIPv4, parseServiceCIDR, type IPv4CIDR } from './service-validation.js';
import { serviceKeyOf, type Service } from './service-types.js';
import { JsonStateFile } from './json-state-file.js';

export class ClusterIPAllocationError extends Error {
  readonly field = 'spec.clusterIP';
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(`Service ${JSON.stringify(service)}: spec.clusterIP: ${message}`);
    this.name = 'ClusterIPAllocationError';
  }
}

export interface ClusterIPAllocatorOptions {
  rootDir: string;
  /** Default 10.96.0.0/12, kube-apiserver's. */
  serviceCIDR?: string;
  logger?: Logger;
}

export interface RejectedClusterIP {
  /** `namespace/name`. */
  service: string;
  error: string;
}

export interface ClusterIPAssignment {
  /** The given Services (copies) with spec.clusterIP and spec.clusterIPs set; rejected ones left out. */
  services: Service[];
  rejected: RejectedClusterIP[];
}

interface StoredAllocations {
  serviceCIDR: string;
  /** `namespace/name` → ClusterIP. */
  clusterIPs: Record<string, string>;
}

/** The bottom of the range kept for fixed addresses: size/16, at least 16, at most 256 (kube-apiserver's). */
function staticBandSize(cidr: IPv4CIDR): number {
  return Math.min(Math.max(16, Math.floor(cidr.size / 16)), 256);
}

/** What a Service asks of the allocator. */
function requestedClusterIP(svc: Service): 'none' | 'auto' | 'unusable' | { ip: string } {
  if ((svc.spec?.type ?? 'ClusterIP') === 'ExternalName') return 'none';
  const asked = svc.spec?.clusterIP || svc.spec?.clusterIPs?.[0];
  if (!asked) return 'auto';
  const v4 = serviceClusterIPv4(svc);
  if (v4 === 'None') return 'none';
  return v4 === undefined ? 'unusable' : { ip: v4 };
}

export class ClusterIPAllocator {
  readonly file: string;
  readonly serviceCIDR: string;
  private readonly cidr: IPv4CIDR;
  private readonly log?: Logger;
  /** key → IP number, and the reverse. */
  private readonly byService = new Map<string, number>();
  private readonly byIP = new Map<number, string>();
  private readonly state: JsonStateFile;

  private constructor(options: ClusterIPAllocatorOptions) {
    this.cidr = parseServiceCIDR(options.serviceCIDR ?? DEFAULT_SERVICE_CIDR);
    this.serviceCIDR = this.cidr.text;
    this.file = join(options.rootDir, 'proxy', 'cluster-ips.json');
    this.log = options.logger;
    this.state = new JsonStateFile(this.file, 'the remembered ClusterIPs', options.logger);
  }

  /** An allocator with the allocations remembered under rootDir (none if the file is missing or unreadable). */
  static async open(options: ClusterIPAllocatorOptions): Promise<ClusterIPAllocator> {
    const allocator = new ClusterIPAllocator(options);
    await allocator.load();
    return allocator;
  }

  private async load(): Promise<void> {
    const stored = ((await this.state.read()) ?? {}) as Partial<StoredAllocations>;
    const entries = Object.entries(stored.clusterIPs ?? {}).sort(([a], [b]) => a.localeCompare(b));
    for (const [key, ip] of entries) {
      const n = parseIPv4(ip);
      if (n === undefined || !isAllocatableIP(this.cidr, n) || this.byIP.has(n)) {
        this.log?.info(
          { service: key, clusterIP: ip, serviceCIDR: this.serviceCIDR },
          'dropping a remembered ClusterIP outside the service CIDR or taken twice',
        );
        continue;
      }
      this.claim(key, n);
    }
  }

  /** The ClusterIP held by `namespace/name`, if any. */
  lookup(service: string): string | undefined {
    const n = this.byService.get(service);
    return n === undefined ? undefined : formatIPv4(n);
  }

  /** Every allocation, `namespace/name` → ClusterIP. */
  allocations(): Map<string, string> {
    return new Map([...this.byService].map(([key, n]) => [key, formatIPv4(n)]));
  }

  private claim(service: string, n: number): void {
    const old = this.byService.get(service);
    if (old !== undefined && old !== n) this.byIP.delete(old);
    this.byService.set(service, n);
    this.byIP.set(n, service);
  }

  /**
   * Gives `service` (`namespace/name`) a ClusterIP, in memory (save() persists):
   * the requested one if free, else the one it already holds, else a free one.
   */
  allocate(service: string, requested?: string): string {
    if (requested !== undefined && requested !== '') {
      const n = parseIPv4(requested);
      if (n === undefined) throw new ClusterIPAllocationError(service, `Invalid value: ${JSON.stringify(requested)}: must be a valid IPv4 address`);
      if (!isAllocatableIP(this.cidr, n)) {
        throw new ClusterIPAllocationError(
          service,
          `Invalid value: ${JSON.stringify(requested)}: failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.serviceCIDR}`,
        );
      }
      const holder = this.byIP.get(n);
      if (holder !== undefined && holder !== service) {
        throw new ClusterIPAllocationError(
          service,
          `Invalid value: ${JSON.stringify(requested)}: failed to allocate IP ${requested}: provided IP is already allocated (to Service "${holder}")`,
        );
      }
      this.claim(service, n);
      return requested;
    }
    const held = this.byService.get(service);
    if (held !== undefined) return formatIPv4(held);
    const n = this.findFree(service);
    if (n === undefined) throw new ClusterIPAllocationError(service, `Internal error: no ClusterIP left in ${this.serviceCIDR}`);
    this.claim(service, n);
    return formatIPv4(n);
  }

  /** Frees the ClusterIP of a Service that is gone; true if it held one. */
  release(service: string): boolean {
    const n = this.byService.get(service);
    if (n === undefined) return false;
    this.byService.delete(service);
    this.byIP.delete(n);
    return true;
  }

  /** First free allocatable address: upper band from a name-derived start, then the static band. */
  private findFree(service: string): number | undefined {
    const { network, size } = this.cidr;
    const first = size < 4 ? 0 : 1;
    const last = size < 4 ? size - 1 : size - 2;
    const low = Math.min(first + staticBandSize(this.cidr), last + 1);
    const bands: Array<[number, number]> =
      low <= last
        ? [
            [low, last],
            [first, low - 1],
          ]
        : [[first, last]];
    const digest = createHash('sha256').update(service).digest();
    const seed = digest.readUInt32BE(0);
    for (const [from, to] of bands) {
      const span = to - from + 1;
      if (span <= 0) continue;
      const start = seed % span;
      for (let i = 0; i < span; i++) {
        const n = network + from + ((start + i) % span);
        if (!this.byIP.has(n)) return n;
      }
    }
    return undefined;
  }

  /**
   * Gives every Service of a complete list its ClusterIP and frees those of
   * Services no longer listed, then persists. Services asking for a fixed address
   * are served first (one already holding it before one newly asking; then by
   * name); a fixed address someone else holds is refused, as the apiserver does.
   * Headless and ExternalName Services get none.
   */
  async assignAll(services: Service[]): Promise<ClusterIPAssignment> {
    const keys = new Set(services.map(serviceKeyOf));
    for (const key of [...this.byService.keys()]) if (!keys.has(key)) this.release(key);

    const rejected: RejectedClusterIP[] = [];
    const assigned = new Map<Service, string>();
    const wanted = services.map((svc) => ({ svc, key: serviceKeyOf(svc), want: requestedClusterIP(svc) }));
    const fixed = wanted
      .filter((w): w is typeof w & { want: { ip: string } } => typeof w.want === 'object')
      .sort((a, b) => {
        const holdsA = this.lookup(a.key) === a.want.ip;
        const holdsB = this.lookup(b.key) === b.want.ip;
        return holdsA !== holdsB ? (holdsA ? -1 : 1) : a.key.localeCompare(b.key);
      });
    // A Service that switches to a fixed address lets go of its old one first.
    for (const { key, want } of fixed) if (this.lookup(key) !== want.ip) this.release(key);
    const tryAllocate = (svc: Service, key: string, ip?: string) => {
      try {
        assigned.set(svc, this.allocate(key, ip));
      } catch (err) {
        rejected.push({ service: key, error: (err as Error).message });
      }
    };
    for (const { svc, key, want } of fixed) tryAllocate(svc, key, want.ip);
    for (const { svc, key, want } of wanted) {
      if (want === 'none') this.release(key);
      else if (want === 'auto') tryAllocate(svc, key);
      else if (want === 'unusable') {
        this.release(key);
        rejected.push({
          service: key,
          error: new ClusterIPAllocationError(
            key,
            `Invalid value: ${JSON.stringify(svc.spec?.clusterIP ?? svc.spec?.clusterIPs?.[0])}: must be a valid IPv4 address`,
          ).message,
        });
      }
    }
    await this.save();

    const out: Service[] = [];
    for (const { svc, want } of wanted) {
      if (want === 'none') {
        out.push(svc);
        continue;
      }
      const ip = assigned.get(svc);
      if (ip === undefined) continue;
      if (svc.spec?.clusterIP === ip) out.push(svc);
      else out.push({ ...svc, spec: { ...svc.spec, clusterIP: ip, clusterIPs: [ip] } });
    }
    return { services: out, rejected };
  }

  /** Writes the allocations if they changed. */
  save(): Promise<void> {
    const clusterIPs: Record<string, string> = {};
    for (const key of [...this.byService.keys()].sort()) clusterIPs[key] = formatIPv4(this.byService.get(key) ?? 0);
    const stored: StoredAllocations = { serviceCIDR: this.serviceCIDR, clusterIPs };
    return this.state.write(stored);
  }
}
