// The service CIDR routed to a local sink interface, so a packet to a ClusterIP that
// no rule catches (a Service not yet programmed, a port the Service does not expose)
// dies on the node instead of following the default route off it. It also gives a
// host-originated connect() to a ClusterIP a route at all: the OUTPUT-chain DNAT runs
// after the first route lookup, and without one connect() fails with ENETUNREACH on
// a node without a default route. DNAT in PREROUTING/OUTPUT happens before the final
// routing decision, so translated traffic still reaches the pods.
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { HostCommandError, hostCommands, runChecked, type CommandRunner } from './host-command.js';

export const SERVICE_ROUTE_INTERFACE = 'nodelet-svc0';

export interface LinkInfo {
  ifname: string;
  kind?: string;
}

/** `ip -d -j link show <name>`; undefined when there is no such link. */
export async function showLink(runner: CommandRunner, name: string): Promise<LinkInfo | undefined> {
  const r = await runner.run('ip', ['-d', '-j', 'link', 'show', 'dev', name]);
  if (r.code !== 0) {
    if (/does not exist|Cannot find device/i.test(r.stderr)) return undefined;
    throw new HostCommandError('ip', ['-d', '-j', 'link', 'show', 'dev', name], r);
  }
  const [link] = JSON.parse(r.stdout) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  return link ? { ifname: link.ifname, kind: link.linkinfo?.info_kind } : undefined;
}

/**
 * Creates a link that swallows what is routed to it: a dummy, or where the kernel
 * was built without CONFIG_DUMMY (as on these machines) a bridge without ports, which
 * drops everything it is asked to send just the same. Returns the kind made.
 */
export async function addSinkLink(runner: CommandRunner, name: string): Promise<'dummy' | 'bridge'> {
  const dummy = await runner.run('ip', ['link', 'add', name, 'type', 'dummy']);
  if (dummy.code === 0) return 'dummy';
  if (!/Unknown device type|not supported/i.test(dummy.stderr)) throw new HostCommandError('ip', ['link', 'add', name, 'type', 'dummy'], dummy);
  await runChecked(runner, 'ip', ['link', 'add', name, 'type', 'bridge']);
  return 'bridge';
}

/** Deletes a link if it exists. */
export async function deleteLink(runner: CommandRunner, name: string): Promise<boolean> {
  const r = await runner.run('ip', ['link', 'del', 'dev', name]);
  if (r.code === 0) return true;
  if (r.code === 127 || /does not exist|Cannot find device/i.test(r.stderr)) return false;
  throw new HostCommandError('ip', ['link', 'del', 'dev', name], r);
}

export interface ServiceRouteOptions {
  serviceCIDR: string;
  runner?: CommandRunner;
  logger?: Logger;
  /** Default nodelet-svc0. */
  interfaceName?: string;
}

export class ServiceRoute {
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  readonly interfaceName: string;

  constructor(private readonly options: ServiceRouteOptions) {
    this.runner = options.runner ?? hostCommands;
    this.logger = options.logger ?? silentLogger;
    this.interfaceName = options.interfaceName ?? SERVICE_ROUTE_INTERFACE;
  }

  /** Makes the interface, brings it up and routes the service CIDR to it; only the missing steps act. */
  async ensure(): Promise<void> {
    const name = this.interfaceName;
    const link = await showLink(this.runner, name);
    if (!link) {
      const kind = await addSinkLink(this.runner, name);
      this.logger.info({ interface: name, kind, serviceCIDR: this.options.serviceCIDR }, 'created the service route interface');
    }
    await runChecked(this.runner, 'ip', ['link', 'set', 'dev', name, 'up']);
    const routes = await this.routes();
    for (const dst of routes) {
      // The service CIDR changed since an earlier run: the old one is not ours to keep.
      if (dst !== this.options.serviceCIDR) await runChecked(this.runner, 'ip', ['route', 'del', dst, 'dev', name]);
    }
    if (!routes.includes(this.options.serviceCIDR)) {
      await runChecked(this.runner, 'ip', ['route', 'replace', this.options.serviceCIDR, 'dev', name]);
    }
  }

  /** The interface and its routes gone. Idempotent. */
  async remove(): Promise<void> {
    await removeServiceRoute(this.runner, this.interfaceName, this.logger);
  }

  private async routes(): Promise<string[]> {
    const r = await runChecked(this.runner, 'ip', ['-j', '-4', 'route', 'show', 'dev', this.interfaceName]);
    const list = JSON.parse(r.stdout || '[]') as Array<{ dst: string }>;
    return list.map((x) => x.dst);
  }
}

/** Deleting the link takes its routes with it. */
export async function removeServiceRoute(runner: CommandRunner, interfaceName = SERVICE_ROUTE_INTERFACE, logger: Logger = silentLogger): Promise<void> {
  if (await deleteLink(runner, interfaceName)) logger.info({ interface: interfaceName }, 'removed the service route interface');
}
