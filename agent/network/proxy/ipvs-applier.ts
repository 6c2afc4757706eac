// The IPVS backend: Service addresses bound to the nodelet-ipvs0 dummy interface,
// virtual servers set with `ipvsadm -R` (only the difference from what the kernel
// has), and the few iptables rules IPVS still needs. It refuses to start on a kernel
// without IPVS (these machines), saying so, before any rule is written.
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { HostCommandError, hostCommands, NO_TIMEOUT, runChecked, type CommandRunner } from './host-command.js';
import { ensureIptablesJumps, IptablesRestoreError, usesNfTablesBackend } from './iptables-applier.js';
import { buildIpvsState, IPVS_DUMMY_INTERFACE, ipvsadmRestoreScript, ipvsIptablesJumpRules, type IpvsVirtualServer } from './ipvs-rules.js';
import type { BackendSyncResult, ProxyBackend } from './proxy-backend.js';
import { serviceKey, type ProxyState, type ServiceProtocol } from './service-model.js';
import { addSinkLink, deleteLink, showLink } from './service-route.js';

export type IpvsSupport = { ok: true } | { ok: false; reason: string };

export interface IpvsSupportProbe {
  runner?: CommandRunner;
  /** Reads a file; rejects when it does not exist. Default fs.readFile. */
  readFile?: (path: string) => Promise<Buffer>;
  /** The running kernel's release, for the message. */
  kernelRelease?: string;
}

async function exists(read: (p: string) => Promise<Buffer>, path: string): Promise<boolean> {
  try {
    await read(path);
    return true;
  } catch {
    return false;
  }
}

/** What the kernel's build config says about IPVS, when /proc/config.gz is there to ask. */
async function kernelConfigSays(read: (p: string) => Promise<Buffer>): Promise<string | undefined> {
  try {
    const config = gunzipSync(await read('/proc/config.gz')).toString();
    if (/^# CONFIG_IP_VS is not set$/m.test(config)) return 'built without it: CONFIG_IP_VS is not set';
  } catch {
    // No config exposed: say nothing about it.
  }
  return undefined;
}

/**
 * Whether this kernel can do IPVS: /proc/net/ip_vs exists once the module is in; if
 * not, `modprobe -n ip_vs` tells whether it could be loaded (and then it is). The
 * reason names what was looked at, so an operator knows what to install or enable.
 */
export async function checkIpvsSupport(probe: IpvsSupportProbe = {}): Promise<IpvsSupport> {
  const runner = probe.runner ?? hostCommands;
  const read = probe.readFile ?? ((p: string) => readFile(p));
  const kernel = probe.kernelRelease ?? release();
  let loaded = await exists(read, '/proc/net/ip_vs');
  const notes: string[] = [];
  if (!loaded) {
    notes.push('/proc/net/ip_vs does not exist');
    const modules = await read('/proc/modules').then(
      (b) => b.toString(),
      () => undefined,
    );
    if (modules !== undefined && !/^ip_vs /m.test(modules)) notes.push('ip_vs is not in /proc/modules');
    const dry = await runner.run('modprobe', ['-n', 'ip_vs']);
    if (dry.code === 0) {
      const load = await runner.run('modprobe', ['ip_vs']);
      loaded = load.code === 0 && (await exists(read, '/proc/net/ip_vs'));
      if (!loaded) notes.push(`modprobe ip_vs: ${load.stderr.trim() || `exit ${load.code}`}`);
    } else if (dry.code === 127) {
      notes.push('modprobe is not installed');
    } else {
      notes.push(`modprobe -n ip_vs: ${dry.stderr.trim().split('\n')[0] || `exit ${dry.code}`}`);
    }
    const config = await kernelConfigSays(read);
    if (config) notes.push(config);
  }
  if (!loaded)
    return {
      ok: false,
      reason: `IPVS mode needs the ip_vs kernel module, which this kernel (${kernel}) does not have (${notes.join('; ')}); use --mode iptables or --mode nftables`,
    };
  const tool = await runner.run('ipvsadm', ['--version']);
  if (tool.code === 127)
    return { ok: false, reason: 'IPVS mode needs the ipvsadm tool, which is not installed; install it or use --mode iptables or --mode nftables' };
  return { ok: true };
}

/** The kernel cannot do IPVS; the message says why and what to use instead. */
export class IpvsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpvsUnavailableError';
  }
}

function protocolOf(flag: string): ServiceProtocol | undefined {
  return flag === '-t' ? 'TCP' : flag === '-u' ? 'UDP' : flag === '--sctp-service' ? 'SCTP' : undefined;
}

function splitHostPort(text: string): { address: string; port: number } {
  const i = text.lastIndexOf(':');
  return { address: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

/** Parses `ipvsadm -Sn` (the -R input format) back into virtual servers. */
export function parseIpvsadmSave(text: string): IpvsVirtualServer[] {
  const byKey = new Map<string, IpvsVirtualServer>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    const op = t[0];
    const protocol = protocolOf(t[1] ?? '');
    if ((op !== '-A' && op !== '-a') || !protocol || !t[2]) continue;
    const { address, port } = splitHostPort(t[2]);
    const key = `${protocol} ${address}:${port}`;
    if (op === '-A') {
      const p = t.indexOf('-p');
      const vs: IpvsVirtualServer = { address, port, protocol, scheduler: 'rr', realServers: [] };
      if (p > 0 && t[p + 1]) vs.persistenceSeconds = Number(t[p + 1]);
      byKey.set(key, vs);
    } else {
      const vs = byKey.get(key);
      const r = t.indexOf('-r');
      const w = t.indexOf('-w');
      if (!vs || r < 0 || !t[r + 1]) continue;
      const rs = splitHostPort(t[r + 1]!);
      vs.realServers.push({ address: rs.address, port: rs.port, weight: w > 0 ? Number(t[w + 1]) : 1 });
    }
  }
  return [...byKey.values()];
}

async function dummyAddresses(runner: CommandRunner, iface: string): Promise<string[]> {
  const r = await runner.run('ip', ['-j', '-4', 'addr', 'show', 'dev', iface]);
  if (r.code !== 0) return [];
  const links = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
}

export interface IpvsBackendOptions {
  runner?: CommandRunner;
  logger?: Logger;
  /** For tests: how support is checked. */
  probe?: IpvsSupportProbe;
}

export class IpvsBackend implements ProxyBackend {
  readonly mode = 'ipvs' as const;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  /** Our virtual servers as the last sync left them; undefined = read from the kernel first. */
  private current?: IpvsVirtualServer[];
  private lastState?: ProxyState;

  constructor(private readonly options: IpvsBackendOptions = {}) {
    this.runner = options.runner ?? hostCommands;
    this.logger = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    const support = await checkIpvsSupport({ runner: this.runner, ...this.options.probe });
    if (!support.ok) throw new IpvsUnavailableError(support.reason);
  }

  async sync(state: ProxyState, _changed: Set<string> | 'full'): Promise<BackendSyncResult> {
    // IPVS state is diffed against the kernel's (or our record of it) every time, so
    // every sync is a full one in effect and cheap in kernel writes.
    const desired = buildIpvsState(state);
    const iface = IPVS_DUMMY_INTERFACE;
    if (!(await showLink(this.runner, iface))) await addSinkLink(this.runner, iface);
    await runChecked(this.runner, 'ip', ['link', 'set', 'dev', iface, 'up']);

    try {
      await runChecked(this.runner, 'iptables-restore', ['-w', '--noflush'], { input: desired.iptablesRestore, timeoutMs: NO_TIMEOUT });
    } catch (err) {
      if (err instanceof HostCommandError) throw new IptablesRestoreError(`iptables-restore refused the IPVS mode rules: ${err.message}`, err);
      throw err;
    }
    const nfTables = await usesNfTablesBackend(this.runner);
    await ensureIptablesJumps(this.runner, ipvsIptablesJumpRules(), nfTables);

    const bound = await dummyAddresses(this.runner, iface);
    const current = this.current ?? (await this.readOurVirtualServers(new Set([...bound, ...desired.dummyAddresses, ...state.nodeIPs])));
    const script = ipvsadmRestoreScript(current, desired.virtualServers);
    if (script) {
      try {
        await runChecked(this.runner, 'ipvsadm', ['-R'], { input: script, timeoutMs: NO_TIMEOUT });
      } catch (err) {
        this.current = undefined; // partly applied: re-read the kernel next time
        throw err;
      }
    }
    this.current = desired.virtualServers;

    // Addresses after the virtual servers exist, so a bound ClusterIP always has one.
    const want = new Set(desired.dummyAddresses);
    const have = new Set(bound);
    const batch: string[] = [];
    for (const a of want) if (!have.has(a)) batch.push(`address add ${a}/32 dev ${iface}`);
    for (const a of have) if (!want.has(a)) batch.push(`address del ${a}/32 dev ${iface}`);
    if (batch.length > 0) await runChecked(this.runner, 'ip', ['-force', '-batch', '-'], { input: `${batch.join('\n')}\n` });

    this.lastState = state;
    const rules = script.split('\n').filter(Boolean).length + desired.iptablesRestore.split('\n').filter((l) => l.startsWith('-A ')).length;
    return { rules, full: true };
  }

  async cleanup(): Promise<void> {
    await cleanupIpvs(this.runner, this.logger);
    this.current = undefined;
  }

  describe(key: string): string[] {
    const info = this.lastState?.services.get(key);
    if (!info || !this.lastState) return [];
    const one = buildIpvsState({ ...this.lastState, services: new Map([[serviceKey(info), info]]) });
    const out = ipvsadmRestoreScript([], one.virtualServers)
      .split('\n')
      .filter(Boolean)
      .map((l) => `ipvsadm ${l}`);
    for (const a of one.dummyAddresses) out.push(`ip address add ${a}/32 dev ${IPVS_DUMMY_INTERFACE}`);
    const name = `${info.name.namespace}/${info.name.name}${info.name.port ? `:${info.name.port}` : ''}`;
    for (const line of one.iptablesRestore.split('\n')) {
      if (line.startsWith('-A ') && (line.includes(`"${name} `) || line.includes(`--comment ${name} `))) out.push(`-t nat ${line}`);
    }
    return out;
  }

  /** Virtual servers on addresses we bind (or node addresses, for NodePorts): the ones we may change. */
  private async readOurVirtualServers(addresses: Set<string>): Promise<IpvsVirtualServer[]> {
    const saved = await runChecked(this.runner, 'ipvsadm', ['-Sn']);
    return parseIpvsadmSave(saved.stdout).filter((vs) => addresses.has(vs.address));
  }
}

/**
 * Removes the virtual servers on nodelet-ipvs0's addresses and the interface. Skipped
 * quietly where the kernel has no IPVS (nothing of ours can exist there). The IPVS
 * mode's iptables chains go with the iptables cleanup (proxy-cleanup.ts).
 */
export async function cleanupIpvs(runner: CommandRunner, logger: Logger = silentLogger): Promise<void> {
  const addresses = new Set(await dummyAddresses(runner, IPVS_DUMMY_INTERFACE));
  const saved = await runner.run('ipvsadm', ['-Sn']);
  if (saved.code === 0 && addresses.size > 0) {
    const ours = parseIpvsadmSave(saved.stdout).filter((vs) => addresses.has(vs.address));
    const script = ipvsadmRestoreScript(ours, []);
    if (script) await runChecked(runner, 'ipvsadm', ['-R'], { input: script, timeoutMs: NO_TIMEOUT });
    if (ours.length > 0) logger.info({ virtualServers: ours.length }, 'removed the proxy IPVS virtual servers');
  }
  if (await deleteLink(runner, IPVS_DUMMY_INTERFACE)) logger.info({ interface: IPVS_DUMMY_INTERFACE }, 'removed the IPVS dummy interface');
}
