// Standalone mode has no apiserver to give NodePort and LoadBalancer Services their
// node ports, so the proxy allocates them from the node-port range (30000-32767) itself,
// as kube-apiserver would, and remembers them in <rootDir>/proxy/node-ports.json so a
// restart changes none of them. A port number belongs to one Service (which may use it
// for two protocols); asking for one another Service holds is refused, as the apiserver
// refuses it. Automatic allocation starts probing at a point derived from the port's
// name, so a Service that comes back after a removal usually gets its old port again.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { DEFAULT_NODE_PORT_RANGE, type PortRange } from './service-validation.js';
import { serviceKeyOf, type Service } from './service-types.js';
import { JsonStateFile } from './json-state-file.js';

export interface NodePortAllocatorOptions {
  rootDir: string;
  range?: PortRange;
  logger?: Logger;
}

export interface RejectedNodePort {
  /** `namespace/name`. */
  service: string;
  error: string;
}

interface StoredNodePorts {
  range: string;
  /** `namespace/name:portKey` → node port. */
  nodePorts: Record<string, number>;
}

/** Node ports belong to NodePort and LoadBalancer Services only. */
function usesNodePorts(svc: Service): boolean {
  return svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
}

/** A port of a Service, named as the apiserver would tell them apart. */
function portKey(service: string, port: { name?: string; port?: unknown; protocol?: string }, index: number): string {
  return `${service}:${port.name || `#${index}`}/${port.protocol ?? 'TCP'}`;
}

export class NodePortAllocator {
  readonly file: string;
  private readonly range: PortRange;
  private readonly state: JsonStateFile;
  /** port key → node port. */
  private readonly byPort = new Map<string, number>();
  /** node port → owning Service (`namespace/name`). */
  private readonly owner = new Map<number, string>();
  private constructor(options: NodePortAllocatorOptions) {
    this.range = options.range ?? DEFAULT_NODE_PORT_RANGE;
    this.file = join(options.rootDir, 'proxy', 'node-ports.json');
    this.state = new JsonStateFile(this.file, 'the remembered node ports', options.logger);
  }

  static async open(options: NodePortAllocatorOptions): Promise<NodePortAllocator> {
    const allocator = new NodePortAllocator(options);
    await allocator.load();
    return allocator;
  }

  private async load(): Promise<void> {
    const stored = ((await this.state.read()) ?? {}) as Partial<StoredNodePorts>;
    for (const [key, port] of Object.entries(stored.nodePorts ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const service = key.slice(0, key.lastIndexOf(':'));
      const holder = this.owner.get(port);
      if (!Number.isInteger(port) || port < this.range.min || port > this.range.max || (holder !== undefined && holder !== service)) continue;
      this.claim(key, service, port);
    }
  }

  private claim(key: string, service: string, port: number): void {
    this.byPort.set(key, port);
    this.owner.set(port, service);
  }

  private releaseKey(key: string): void {
    const port = this.byPort.get(key);
    if (port === undefined) return;
    this.byPort.delete(key);
    // The number stays the Service's while another of its ports still uses it.
    if (![...this.byPort.values()].includes(port)) this.owner.delete(port);
  }

  private findFree(key: string): number | undefined {
    const span = this.range.max - this.range.min + 1;
    const start = createHash('sha256').update(key).digest().readUInt32BE(0) % span;
    for (let i = 0; i < span; i++) {
      const port = this.range.min + ((start + i) % span);
      if (!this.owner.has(port)) return port;
    }
    return undefined;
  }

  /**
   * Gives every port of every NodePort or LoadBalancer Service of a complete list its
   * node port and frees those no longer used, then persists. Ports asking for a fixed
   * number are served first (one already holding it before one newly asking); a
   * Service whose fixed number another Service holds is refused whole.
   */
  async assignAll(services: Service[]): Promise<{ services: Service[]; rejected: RejectedNodePort[] }> {
    const wanted = new Map<string, { service: string; index: number; fixed?: number }>();
    for (const svc of services) {
      if (!usesNodePorts(svc)) continue;
      const service = serviceKeyOf(svc);
      (svc.spec.ports ?? []).forEach((p, index) => {
        const fixed = Number.isInteger(p?.nodePort) && (p.nodePort ?? 0) > 0 ? p.nodePort : undefined;
        wanted.set(portKey(service, p ?? {}, index), { service, index, ...(fixed === undefined ? {} : { fixed }) });
      });
    }
    for (const key of [...this.byPort.keys()]) {
      const w = wanted.get(key);
      if (!w || (w.fixed !== undefined && this.byPort.get(key) !== w.fixed)) this.releaseKey(key);
    }

    const refused = new Map<string, string>();
    const fixed = [...wanted]
      .filter(([, w]) => w.fixed !== undefined)
      .sort(([a], [b]) => Number(this.byPort.has(b)) - Number(this.byPort.has(a)) || a.localeCompare(b));
    for (const [key, w] of fixed) {
      const holder = this.owner.get(w.fixed!);
      if (holder !== undefined && holder !== w.service) {
        refused.set(
          w.service,
          `Service ${JSON.stringify(w.service)}: spec.ports[${w.index}].nodePort: Invalid value: ${w.fixed}: provided port is already allocated (to Service "${holder}")`,
        );
        continue;
      }
      this.claim(key, w.service, w.fixed!);
    }
    for (const [key, w] of wanted) {
      if (w.fixed !== undefined || this.byPort.has(key) || refused.has(w.service)) continue;
      const port = this.findFree(key);
      if (port === undefined) {
        refused.set(
          w.service,
          `Service ${JSON.stringify(w.service)}: spec.ports[${w.index}].nodePort: Internal error: no node port left in ${this.range.min}-${this.range.max}`,
        );
        continue;
      }
      this.claim(key, w.service, port);
    }
    // A refused Service holds nothing.
    for (const [key, w] of wanted) if (refused.has(w.service)) this.releaseKey(key);
    await this.save();

    const out: Service[] = [];
    for (const svc of services) {
      const service = serviceKeyOf(svc);
      if (refused.has(service)) continue;
      if (!usesNodePorts(svc)) {
        out.push(svc);
        continue;
      }
      const ports = (svc.spec.ports ?? []).map((p, index) => {
        const port = this.byPort.get(portKey(service, p ?? {}, index));
        return port === undefined || p?.nodePort === port ? p : { ...p, nodePort: port };
      });
      out.push(ports.every((p, i) => p === svc.spec.ports?.[i]) ? svc : { ...svc, spec: { ...svc.spec, ports } });
    }
    return { services: out, rejected: [...refused].map(([service, error]) => ({ service, error })) };
  }

  /** Writes the allocations if they changed. */
  save(): Promise<void> {
    const nodePorts: Record<string, number> = {};
    for (const key of [...this.byPort.keys()].sort()) nodePorts[key] = this.byPort.get(key)!;
    const stored: StoredNodePorts = { range: `${this.range.min}-${this.range.max}`, nodePorts };
    return this.state.write(stored);
  }
}
