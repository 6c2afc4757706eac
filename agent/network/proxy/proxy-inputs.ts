// Where the proxy's Services and endpoints come from, turned into the rule model.
// Joined: Services and EndpointSlices (or core/v1 Endpoints on servers without the
// discovery API) through fault-tolerant informers. Standalone: Service manifests
// from a directory, ClusterIPs from a local allocator, endpoints from the agent's
// Ready local pods. Either way the model is rebuilt from the full picture on each
// change (cheap next to a sync) and each bad object is logged once.
import type { KubeClient } from '../../kube/client.js';
import { Informer } from '../../kube/informer.js';
import type { Logger } from '../../log/logger.js';
import { ClusterIPAllocator } from './cluster-ip-allocator.js';
import { NodePortAllocator } from './node-port-allocator.js';
import { endpointsToSlices } from './endpoints-to-model.js';
import { localPodEndpoints } from './local-pod-endpoints.js';
import type { ProxyState } from './service-model.js';
import { buildServiceMap, type InvalidService } from './service-to-model.js';
import { serviceKeyOf, type EndpointSlice, type Endpoints, type Service } from './service-types.js';
import { StandaloneServiceSource } from './standalone-service-source.js';

export type ServicesListener = (services: ProxyState['services']) => void;

export interface ProxyInputs {
  /** Resolves once Services and endpoints have both been read once (no rule is written before). */
  start(onChange: ServicesListener): Promise<void>;
  stop(): Promise<void>;
}

/** Logs each distinct problem once, and again only after it went away and came back. */
class OnceLogger {
  private seen = new Set<string>();
  constructor(private readonly log: Logger) {}
  report(invalid: InvalidService[], endpointProblems: string[]): void {
    const now = new Set<string>();
    for (const bad of invalid) {
      for (const error of bad.errors) {
        const key = `svc:${error}`;
        now.add(key);
        if (!this.seen.has(key)) this.log.warn({ service: bad.service }, `Service skipped: ${error}`);
      }
    }
    for (const p of endpointProblems) {
      now.add(p);
      if (!this.seen.has(p)) this.log.warn(p);
    }
    this.seen = now;
  }
}

function build(
  services: Service[],
  slices: EndpointSlice[],
  nodeName: string,
  serviceCIDR: string,
  once: OnceLogger,
  whereOf?: (s: Service) => string,
): ProxyState['services'] {
  const problems: string[] = [];
  const map = buildServiceMap({
    services,
    slices,
    nodeName,
    serviceCIDR,
    whereOf,
    log: (object, field, msg) => problems.push(`endpoint skipped: ${object}: ${field}: ${msg}`),
  });
  once.report(map.invalid, problems);
  return map.services;
}

export class StandaloneProxyInputs implements ProxyInputs {
  private source?: StandaloneServiceSource;
  private timer?: ReturnType<typeof setInterval>;
  private services: Service[] = [];
  private origins: ReadonlyMap<string, string> = new Map();
  private lastEndpoints = '';
  private readonly once: OnceLogger;

  constructor(
    private readonly options: {
      manifests: string;
      rootDir: string;
      nodeName: string;
      serviceCIDR: string;
      logger: Logger;
      pollMs?: number;
    },
  ) {
    this.once = new OnceLogger(options.logger);
  }

  async start(onChange: ServicesListener): Promise<void> {
    const { manifests, rootDir, nodeName, serviceCIDR, logger } = this.options;
    const allocator = await ClusterIPAllocator.open({ rootDir, serviceCIDR, logger });
    const nodePorts = await NodePortAllocator.open({ rootDir, logger });
    const emit = () => {
      const slices = localPodEndpoints(rootDir, nodeName, this.services);
      this.lastEndpoints = JSON.stringify(slices);
      onChange(build(this.services, slices, nodeName, serviceCIDR, this.once, (s) => this.origins.get(serviceKeyOf(s)) ?? manifests));
    };
    this.source = new StandaloneServiceSource({ dir: manifests, logger, pollMs: this.options.pollMs });
    await this.source.start((services, origins) => {
      void (async () => {
        const withIPs = await allocator.assignAll(services);
        const withPorts = await nodePorts.assignAll(withIPs.services);
        for (const r of [...withIPs.rejected, ...withPorts.rejected]) logger.warn({ service: r.service }, `Service skipped: ${r.error}`);
        this.services = withPorts.services;
        this.origins = origins;
        emit();
      })().catch((err: Error) => logger.error({ err: err.message }, 'cannot record ClusterIP or node port allocations'));
    });
    // Pod readiness lives in the agent's state files; follow it at the agent's pace.
    this.timer = setInterval(() => {
      const slices = JSON.stringify(localPodEndpoints(rootDir, nodeName, this.services));
      if (slices !== this.lastEndpoints) emit();
    }, this.options.pollMs ?? 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.source?.stop();
  }
}

export class ApiProxyInputs implements ProxyInputs {
  private readonly services: Informer<Service>;
  private readonly slices?: Informer<EndpointSlice>;
  private readonly endpoints?: Informer<Endpoints>;
  private readonly once: OnceLogger;

  constructor(
    private readonly options: {
      client: KubeClient;
      nodeName: string;
      serviceCIDR: string;
      logger: Logger;
      useEndpointSlices: boolean;
    },
  ) {
    const { client, logger } = options;
    this.once = new OnceLogger(logger);
    this.services = new Informer<Service>({ client, path: { version: 'v1', resource: 'services' }, logger: logger.child({ informer: 'services' }) });
    if (options.useEndpointSlices) {
      this.slices = new Informer<EndpointSlice>({
        client,
        path: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
        logger: logger.child({ informer: 'endpointslices' }),
      });
    } else {
      this.endpoints = new Informer<Endpoints>({ client, path: { version: 'v1', resource: 'endpoints' }, logger: logger.child({ informer: 'endpoints' }) });
    }
  }

  async start(onChange: ServicesListener): Promise<void> {
    let synced = false;
    let queued = false;
    // A burst of watch events (a re-list, a rollout) becomes one rebuild.
    const emit = () => {
      if (!synced || queued) return;
      queued = true;
      setImmediate(rebuild);
    };
    const rebuild = () => {
      queued = false;
      const slices = this.slices ? this.slices.list() : this.endpoints!.list().flatMap((e) => endpointsToSlices(e));
      onChange(build(this.services.list(), slices, this.options.nodeName, this.options.serviceCIDR, this.once, () => 'apiserver'));
    };
    const handlers = { onAdd: emit, onUpdate: emit, onDelete: emit };
    this.services.addHandlers(handlers);
    (this.slices ?? this.endpoints)!.addHandlers(handlers);
    this.services.start();
    (this.slices ?? this.endpoints)!.start();
    await Promise.all([this.services.waitForSync(), (this.slices ?? this.endpoints)!.waitForSync()]);
    synced = true;
    emit();
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.slices?.stop(), this.endpoints?.stop()]);
  }
}

/** Whether the server serves discovery.k8s.io/v1 EndpointSlices (else the proxy falls back to Endpoints). */
export async function serverHasEndpointSlices(client: KubeClient): Promise<boolean> {
  try {
    const res = await client.request<{ resources?: Array<{ name: string }> }>({ method: 'GET', path: '/apis/discovery.k8s.io/v1' });
    return (res.resources ?? []).some((r) => r.name === 'endpointslices');
  } catch {
    return false;
  }
}
