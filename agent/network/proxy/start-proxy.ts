// `nodelet proxy`: the backend for the chosen mode, the service-CIDR sink route,
// the Proxier's sync loop, /healthz and /metrics, the rules socket for
// `nodelet rules`, and the inputs (apiserver or standalone manifests + local pods).
import { KubeClient } from '../../kube/client.js';
import type { Logger } from '../../log/logger.js';
import { checkIpvsSupport, IpvsBackend, IpvsUnavailableError } from './ipvs-applier.js';
import { IptablesBackend } from './iptables-applier.js';
import { NftablesBackend } from './nftables-applier.js';
import { Proxier } from './proxier.js';
import type { ProxyBackend, ProxyMode } from './proxy-backend.js';
import { cleanupOtherModes } from './proxy-cleanup.js';
import { startProxyHealthServer } from './proxy-health-server.js';
import { ApiProxyInputs, serverHasEndpointSlices, StandaloneProxyInputs, type ProxyInputs } from './proxy-inputs.js';
import { ProxyMetrics } from './proxy-metrics.js';
import { rulesSocketPath, serveRules } from './rules-socket.js';
import { ServiceRoute } from './service-route.js';

export interface ProxyConfiguration {
  mode: ProxyMode;
  nodeName: string;
  rootDir: string;
  manifests?: string;
  kubeconfig?: string;
  serviceCIDR: string;
  clusterCIDR?: string;
  /** Addresses NodePorts answer on; [] = every local address but loopback. */
  nodeIPs: string[];
  healthzPort: number;
  healthzBindAddress: string;
  minSyncMs: number;
  maxSyncMs: number;
}

export interface RunningProxy {
  proxier: Proxier;
  healthzPort: number;
  stop(): Promise<void>;
}

export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

async function backendFor(mode: ProxyMode, logger: Logger): Promise<ProxyBackend> {
  switch (mode) {
    case 'iptables':
      return new IptablesBackend({ logger });
    case 'nftables':
      return new NftablesBackend({ logger });
    case 'ipvs': {
      const support = await checkIpvsSupport();
      if (!support.ok) throw new IpvsUnavailableError(support.reason);
      return new IpvsBackend({ logger });
    }
    default:
      throw new ProxyConfigError(`--mode "${String(mode)}" is not one of iptables, nftables, ipvs`);
  }
}

export async function startProxy(config: ProxyConfiguration, logger: Logger): Promise<RunningProxy> {
  if (!config.kubeconfig && !config.manifests) {
    throw new ProxyConfigError('nodelet proxy needs --kubeconfig (joined) or --manifests DIR (standalone Services)');
  }
  const backend = await backendFor(config.mode, logger);
  const metrics = new ProxyMetrics();
  const proxier = new Proxier({
    backend,
    logger,
    metrics,
    serviceCIDR: config.serviceCIDR,
    clusterCIDR: config.clusterCIDR,
    nodeIPs: config.nodeIPs,
    minSyncMs: config.minSyncMs,
    maxSyncMs: config.maxSyncMs,
    serviceRoute: new ServiceRoute({ serviceCIDR: config.serviceCIDR, logger }),
    cleanupOtherModes: () => cleanupOtherModes(config.mode, { logger }),
  });
  await proxier.start();

  let inputs: ProxyInputs;
  if (config.kubeconfig) {
    const client = await KubeClient.fromKubeconfig(config.kubeconfig, { logger });
    const useEndpointSlices = await serverHasEndpointSlices(client);
    if (!useEndpointSlices) logger.warn('the apiserver has no discovery.k8s.io/v1 EndpointSlices; using core/v1 Endpoints');
    inputs = new ApiProxyInputs({ client, nodeName: config.nodeName, serviceCIDR: config.serviceCIDR, logger, useEndpointSlices });
  } else {
    inputs = new StandaloneProxyInputs({
      manifests: config.manifests!,
      rootDir: config.rootDir,
      nodeName: config.nodeName,
      serviceCIDR: config.serviceCIDR,
      logger,
    });
  }

  const health = await startProxyHealthServer({
    metrics,
    sync: proxier,
    maxSyncMs: config.maxSyncMs,
    port: config.healthzPort,
    host: config.healthzBindAddress,
  });
  const rules = await serveRules(rulesSocketPath(config.rootDir), (service) => {
    const last = proxier.lastSyncedAt();
    const keys = proxier.serviceKeys().filter((k) => !service || k === service || k.startsWith(`${service}:`) || k.startsWith(`${service}/`));
    return {
      mode: config.mode,
      ...(last !== undefined ? { lastSyncedAt: new Date(last).toISOString() } : {}),
      services: keys.map((k) => proxier.rulesFor(k)).filter((r) => r !== undefined),
    };
  });
  // Inputs last: no rule is written until Services and endpoints were both read once.
  await inputs.start((services) => proxier.update(services));
  proxier.setSynced();
  logger.info({ mode: config.mode, serviceCIDR: config.serviceCIDR, healthz: health.port }, 'nodelet proxy started');

  return {
    proxier,
    healthzPort: health.port,
    async stop() {
      await inputs.stop();
      await proxier.stop();
      await health.close();
      await rules.close();
    },
  };
}
