// `nodelet proxy --cleanup`, and what a proxy starting in one mode removes of the
// others. Everything is found by looking at the kernel (iptables-save, nft, ip,
// ipvsadm), not from a record, so what a crashed or older run left goes too. Each
// step is idempotent; with nothing of ours present nothing is changed.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { hostCommands, type CommandRunner } from './host-command.js';
import { cleanupIptablesRules, IPTABLES_FIXED_CHAINS, isIptablesModeChain } from './iptables-applier.js';
import { isServiceChainName } from './chain-names.js';
import { cleanupIpvs } from './ipvs-applier.js';
import { KUBE_NODE_PORT } from './ipvs-rules.js';
import { KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_POSTROUTING, KUBE_SERVICES } from './iptables-rules.js';
import { deleteNftablesTable } from './nftables-applier.js';
import type { ProxyMode } from './proxy-backend.js';
import { removeServiceRoute, SERVICE_ROUTE_INTERFACE } from './service-route.js';

export interface ProxyCleanupOptions {
  runner?: CommandRunner;
  logger?: Logger;
  /** The service route interface (default nodelet-svc0). */
  serviceRouteInterface?: string;
}

/** Every chain either iptables-based mode (iptables, ipvs) writes. */
function isAnyModeChain(_table: 'nat' | 'filter', chain: string): boolean {
  return isIptablesModeChain(chain) || chain === KUBE_NODE_PORT;
}

/** The chains only iptables mode writes: what an IPVS-mode proxy must not keep, and must not delete of its own. */
function isIptablesOnlyChain(table: 'nat' | 'filter', chain: string): boolean {
  if (isServiceChainName(chain)) return true;
  const ipvsShares = table === 'nat' ? [KUBE_SERVICES, KUBE_POSTROUTING, KUBE_MARK_MASQ] : [KUBE_FORWARD];
  return IPTABLES_FIXED_CHAINS.includes(chain) && !ipvsShares.includes(chain);
}

/** IPVS mode's own chain: what an iptables-mode proxy does not rewrite. */
function isIpvsOnlyChain(table: 'nat' | 'filter', chain: string): boolean {
  return table === 'nat' && chain === KUBE_NODE_PORT;
}

/** Some cleanup steps failed; every other step still ran. */
export class ProxyCleanupError extends Error {
  constructor(readonly failures: string[]) {
    super(`proxy cleanup incomplete: ${failures.join('; ')}`);
    this.name = 'ProxyCleanupError';
  }
}

async function steps(list: Array<[string, () => Promise<void>]>, logger: Logger): Promise<void> {
  // Every step runs even when one fails: a half-done cleanup is worse than a reported one.
  const errors: string[] = [];
  for (const [what, step] of list) {
    try {
      await step();
    } catch (err) {
      logger.error({ err, step: what }, 'proxy cleanup step failed');
      errors.push(`${what}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new ProxyCleanupError(errors);
}

/**
 * Removes every chain, jump, table, set, virtual server, interface and route any
 * proxy mode made: iptables KUBE-* chains of ours in nat and filter with the jumps
 * into them, the `ip nodelet` nft table, IPVS virtual servers and nodelet-ipvs0
 * (skipped without IPVS), nodelet-svc0 and its route.
 */
export async function cleanupAll(options: ProxyCleanupOptions = {}): Promise<void> {
  const runner = options.runner ?? hostCommands;
  const logger = options.logger ?? silentLogger;
  await steps(
    [
      ['iptables', () => cleanupIptablesRules(runner, logger, isAnyModeChain)],
      ['nftables', () => deleteNftablesTable(runner, logger)],
      ['ipvs', () => cleanupIpvs(runner, logger)],
      ['service route', () => removeServiceRoute(runner, options.serviceRouteInterface ?? SERVICE_ROUTE_INTERFACE, logger)],
    ],
    logger,
  );
}

/** What a proxy starting in `mode` removes: everything the other modes made and it does not reuse. */
export async function cleanupOtherModes(mode: ProxyMode, options: ProxyCleanupOptions = {}): Promise<void> {
  const runner = options.runner ?? hostCommands;
  const logger = options.logger ?? silentLogger;
  const list: Array<[string, () => Promise<void>]> = [];
  if (mode === 'nftables') list.push(['iptables', () => cleanupIptablesRules(runner, logger, isAnyModeChain)]);
  if (mode === 'iptables') list.push(['ipvs iptables chains', () => cleanupIptablesRules(runner, logger, isIpvsOnlyChain)]);
  if (mode === 'ipvs') list.push(['iptables-mode chains', () => cleanupIptablesRules(runner, logger, isIptablesOnlyChain)]);
  if (mode !== 'nftables') list.push(['nftables', () => deleteNftablesTable(runner, logger)]);
  if (mode !== 'ipvs') list.push(['ipvs', () => cleanupIpvs(runner, logger)]);
  await steps(list, logger);
}
