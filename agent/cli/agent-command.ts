// `nodelet agent`: resolve the configuration, start the agent, stop on a signal.
import { parseArgs } from 'node:util';
import { resolveConfig, type NodeletConfiguration } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { startAgent } from '../agent.js';
import { startProxy, type RunningProxy } from '../network/proxy/start-proxy.js';
import { DEFAULT_HEALTHZ_PORT } from '../network/proxy/proxy-health-server.js';
import { DEFAULT_MAX_SYNC_MS, DEFAULT_MIN_SYNC_MS } from '../network/proxy/proxier.js';
import type { ProxyMode } from '../network/proxy/proxy-backend.js';

export async function runAgentCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'node-name': { type: 'string' },
      'root-dir': { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      manifests: { type: 'string' },
      'pod-cidr': { type: 'string' },
      'cluster-dns': { type: 'string' },
      'cluster-domain': { type: 'string' },
      'max-pods': { type: 'string' },
      'container-runtime-endpoint': { type: 'string' },
      kubeconfig: { type: 'string' },
      'node-labels': { type: 'string' },
      // The embedded default (`npm start`): the Service proxy in the same process,
      // on the same manifests (it takes the Services, the agent the Pods).
      proxy: { type: 'boolean', default: false },
      'proxy-mode': { type: 'string', default: 'iptables' },
      'service-cidr': { type: 'string', default: '10.96.0.0/12' },
    },
    strict: true,
  });
  const flags: Partial<NodeletConfiguration> & { config?: string } = {
    config: values.config,
    nodeName: values['node-name'],
    rootDir: values['root-dir'],
    logLevel: values['log-level'],
    manifests: values.manifests,
    podCIDR: values['pod-cidr'],
    clusterDNS: values['cluster-dns']?.split(',').filter(Boolean),
    clusterDomain: values['cluster-domain'],
    maxPods: values['max-pods'] !== undefined ? Number(values['max-pods']) : undefined,
    containerRuntimeEndpoint: values['container-runtime-endpoint'],
    kubeconfig: values.kubeconfig,
    nodeLabels: values['node-labels'] !== undefined ? parseLabels(values['node-labels']) : undefined,
  };
  const deprecations: string[] = [];
  const config = resolveConfig(flags, (message) => deprecations.push(message));
  const logger = createLogger(config.logLevel);
  for (const message of deprecations) logger.warn(message);
  const agent = await startAgent(config, logger);
  let proxy: RunningProxy | undefined;
  if (values.proxy) {
    proxy = await startProxy(
      {
        mode: values['proxy-mode'] as ProxyMode,
        nodeName: config.nodeName,
        rootDir: config.rootDir,
        manifests: config.manifests,
        kubeconfig: config.kubeconfig,
        serviceCIDR: values['service-cidr'],
        clusterCIDR: config.podCIDR,
        nodeIPs: [],
        healthzPort: DEFAULT_HEALTHZ_PORT,
        healthzBindAddress: '127.0.0.1',
        minSyncMs: DEFAULT_MIN_SYNC_MS,
        maxSyncMs: DEFAULT_MAX_SYNC_MS,
      },
      logger.child({ component: 'proxy' }),
    );
  }
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      logger.info({ signal: sig }, 'stopping agent; pods keep running');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await proxy?.stop();
  await agent.stop();
  logger.flush();
  return 0;
}

/** `a=b,c=d` as kubelet's --node-labels takes it. */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--node-labels: "${pair}" is not key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
