// `nodelet proxy`: program Services into iptables, nftables or IPVS (kube-proxy's
// job), or `--cleanup` to remove everything any mode ever wrote.
import { parseArgs } from 'node:util';
import { defaultNodeName } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { PROXY_MODES, type ProxyMode } from '../network/proxy/proxy-backend.js';
import { cleanupAll } from '../network/proxy/proxy-cleanup.js';
import { DEFAULT_HEALTHZ_PORT } from '../network/proxy/proxy-health-server.js';
import { DEFAULT_MAX_SYNC_MS, DEFAULT_MIN_SYNC_MS } from '../network/proxy/proxier.js';
import { ProxyConfigError, startProxy } from '../network/proxy/start-proxy.js';
import { parseIPv4CIDR } from '../network/proxy/service-validation.js';

/** `1s`, `500ms`, `2m` (kube-proxy's duration flags). */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) throw new ProxyConfigError(`--${flag} "${text}" is not a duration like 1s, 500ms or 2m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export async function runProxyCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string', default: 'iptables' },
      kubeconfig: { type: 'string' },
      manifests: { type: 'string' },
      'node-name': { type: 'string' },
      'root-dir': { type: 'string', default: '/var/lib/nodelet' },
      'service-cidr': { type: 'string', default: '10.96.0.0/12' },
      'cluster-cidr': { type: 'string' },
      'nodeport-addresses': { type: 'string' },
      'healthz-port': { type: 'string', default: String(DEFAULT_HEALTHZ_PORT) },
      'healthz-bind-address': { type: 'string', default: '0.0.0.0' },
      'min-sync-period': { type: 'string', default: `${DEFAULT_MIN_SYNC_MS}ms` },
      'max-sync-period': { type: 'string', default: `${DEFAULT_MAX_SYNC_MS}ms` },
      'log-level': { type: 'string', default: 'info' },
      cleanup: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const logger = createLogger(values['log-level']);
  if (values.cleanup) {
    await cleanupAll({ logger });
    logger.info('removed every chain, table, interface and route nodelet proxy made (all modes)');
    logger.flush();
    return 0;
  }
  const mode = values.mode as ProxyMode;
  if (!PROXY_MODES.includes(mode)) throw new ProxyConfigError(`--mode "${values.mode}" is not one of ${PROXY_MODES.join(', ')}`);
  for (const flag of ['service-cidr', 'cluster-cidr'] as const) {
    const v = values[flag];
    if (v !== undefined && !parseIPv4CIDR(v)) throw new ProxyConfigError(`--${flag} "${v}" is not an IPv4 CIDR`);
  }
  const healthzPort = Number(values['healthz-port']);
  if (!Number.isInteger(healthzPort) || healthzPort < 0 || healthzPort > 65535)
    throw new ProxyConfigError(`--healthz-port "${values['healthz-port']}" is not a port`);
  const proxy = await startProxy(
    {
      mode,
      nodeName: values['node-name'] ?? defaultNodeName(),
      rootDir: values['root-dir'],
      manifests: values.manifests,
      kubeconfig: values.kubeconfig,
      serviceCIDR: values['service-cidr'],
      clusterCIDR: values['cluster-cidr'],
      nodeIPs: values['nodeport-addresses']?.split(',').filter(Boolean) ?? [],
      healthzPort,
      healthzBindAddress: values['healthz-bind-address'],
      minSyncMs: parseDuration('min-sync-period', values['min-sync-period']),
      maxSyncMs: parseDuration('max-sync-period', values['max-sync-period']),
    },
    logger,
  );
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      logger.info({ signal: sig }, 'stopping proxy; the rules stay in place');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await proxy.stop();
  logger.flush();
  return 0;
}
