// Private network namespaces for the proxy's kernel tests. Every rule, table, link
// and route a test makes lives in a netns it created, so the host's rules (which
// Docker and other tests' proxies depend on) are never touched, and "exactly as
// before" comparisons cannot be disturbed by anyone else's activity.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { HostCommandRunner, runChecked, type CommandRunner } from '../../../agent/network/proxy/host-command.js';
import { cleanupAll } from '../../../agent/network/proxy/proxy-cleanup.js';
import { ServiceRoute } from '../../../agent/network/proxy/service-route.js';
import type { ProxyState, ServicePortInfo } from '../../../agent/network/proxy/service-model.js';
import { endpoint, proxyState, servicePort } from '../../unit/network/proxy/proxy-fixtures.js';

const run = promisify(execFile);

export const NETNS_PREFIX = 'nlt-px-';

export class TestNetns {
  readonly runner: CommandRunner;
  private constructor(readonly name: string) {
    this.runner = new HostCommandRunner({ netns: name });
  }

  static async create(tag: string): Promise<TestNetns> {
    const name = `${NETNS_PREFIX}${tag}-${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', name]);
    const ns = new TestNetns(name);
    await runChecked(ns.runner, 'ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  async sh(command: string, args: string[], input?: string): Promise<string> {
    return (await runChecked(this.runner, command, args, input === undefined ? {} : { input })).stdout;
  }

  async destroy(): Promise<void> {
    await run('ip', ['netns', 'del', this.name]).catch(() => {});
  }
}

/** iptables-save without its '#' lines and with counters zeroed. */
export function normalizeIptablesSave(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');
}

/** nft list ruleset with packet/byte counters zeroed and iptables-nft's warnings dropped. */
export function normalizeNftRuleset(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('# Warning'))
    .map((l) => l.replace(/counter packets \d+ bytes \d+/g, 'counter'))
    .join('\n');
}

export async function snapshot(ns: TestNetns): Promise<{ iptables: string; nft: string; links: string; routes: string }> {
  const links = JSON.parse(await ns.sh('ip', ['-j', 'link', 'show'])) as Array<{ ifname: string }>;
  return {
    iptables: normalizeIptablesSave(await ns.sh('iptables-save', [])),
    nft: normalizeNftRuleset(await ns.sh('nft', ['list', 'ruleset'])),
    links: links
      .map((l) => l.ifname)
      .sort()
      .join(','),
    routes: await ns.sh('ip', ['-4', 'route', 'show']),
  };
}

/**
 * Gives the netns a copy of the host's iptables rules (Docker's chains and all,
 * anything KUBE- or NODELET- left out): the proxy must leave exactly these alone.
 * A restore declares every built-in chain, but iptables-nft creates one in the kernel
 * only when a rule needs it (as Docker's rules did on the host); `asOnHost` then
 * removes the empty built-in chains the host does not have, so `nft list ruleset`
 * looks as on a Docker host.
 */
export async function seedWithHostRules(ns: TestNetns, options: { asOnHost?: boolean } = {}): Promise<void> {
  const { stdout } = await run('iptables-save', []);
  const lines = stdout.split('\n').filter((l) => !l.startsWith('#') && !l.includes('KUBE-') && !l.includes('NODELET-'));
  await ns.sh('iptables-restore', ['-w'], `${lines.join('\n')}\n`);
  if (options.asOnHost === false) return;
  const chainsOf = (json: string) =>
    new Set(
      (JSON.parse(json) as { nftables: Array<{ chain?: { table: string; name: string } }> }).nftables.flatMap((i) =>
        i.chain ? [`${i.chain.table} ${i.chain.name}`] : [],
      ),
    );
  const onHost = chainsOf((await run('nft', ['-j', 'list', 'chains', 'ip'])).stdout);
  for (const key of chainsOf(await ns.sh('nft', ['-j', 'list', 'chains', 'ip']))) {
    if (onHost.has(key)) continue;
    const [table, chain] = key.split(' ') as [string, string];
    await ns.runner.run('nft', ['delete', 'chain', 'ip', table, chain]); // fails (and stays) if not empty
  }
}

/** The Docker chains of an iptables-save text, each with its rules. */
export function dockerChains(save: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const m = /^(?::|-A )(DOCKER\S*)/.exec(line);
    if (!m) continue;
    const key = `${table}/${m[1]}`;
    const list = out.get(key) ?? [];
    if (line.startsWith('-A ')) list.push(line);
    out.set(key, list);
  }
  return out;
}

export interface Backends {
  /** The addresses the servers answer on (TCP and UDP, same port). */
  ips: string[];
  port: number;
  stop(): Promise<void>;
}

const SERVER = `
const net = require('node:net'); const dgram = require('node:dgram');
const [ips, port] = [process.argv[1].split(','), Number(process.argv[2])];
let ready = 0;
const up = () => { if (++ready === ips.length * 2) console.log('ready'); };
for (const ip of ips) {
  net.createServer((s) => { s.end(ip + '\\n'); }).listen(port, ip, up);
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => u.send(ip + '\\n', r.port, r.address));
  u.bind(port, ip, up);
}`;

/**
 * A second netns joined to `ns` by a veth pair: `ns` gets 10.251.0.1/24, the peer
 * one address per backend, each answering TCP and UDP on `port` with its own address.
 */
export async function startBackends(ns: TestNetns, count: number, port = 8080): Promise<Backends> {
  const peer = await TestNetns.create('be');
  const ips = Array.from({ length: count }, (_, i) => `10.251.0.${i + 2}`);
  let server: ChildProcess | undefined;
  try {
    await ns.sh('ip', ['link', 'add', 'vproxy', 'type', 'veth', 'peer', 'name', 'vbackend', 'netns', peer.name]);
    await ns.sh('ip', ['addr', 'add', '10.251.0.1/24', 'dev', 'vproxy']);
    await ns.sh('ip', ['link', 'set', 'vproxy', 'up']);
    for (const ip of ips) await peer.sh('ip', ['addr', 'add', `${ip}/24`, 'dev', 'vbackend']);
    await peer.sh('ip', ['link', 'set', 'vbackend', 'up']);
    server = spawn('ip', ['netns', 'exec', peer.name, process.execPath, '-e', SERVER, ips.join(','), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = server;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`backend server exited with ${code}`)));
    });
  } catch (err) {
    server?.kill('SIGKILL');
    await peer.destroy();
    throw err;
  }
  const child = server;
  return {
    ips,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      await peer.destroy();
    },
  };
}

export interface RemoteClient {
  ns: TestNetns;
  /** The proxy netns's address on the client link: NodePorts answer there. */
  gateway: string;
  stop(): Promise<void>;
}

/**
 * A third netns standing for another machine: 10.252.0.2/24, default route via the
 * proxy netns (10.252.0.1), which forwards. Its traffic takes the PREROUTING/FORWARD
 * path through the rules, as a pod's or a remote client's does.
 */
export async function startRemoteClient(ns: TestNetns): Promise<RemoteClient> {
  const client = await TestNetns.create('cl');
  try {
    await ns.sh('ip', ['link', 'add', 'vgw', 'type', 'veth', 'peer', 'name', 'vclient', 'netns', client.name]);
    await ns.sh('ip', ['addr', 'add', '10.252.0.1/24', 'dev', 'vgw']);
    await ns.sh('ip', ['link', 'set', 'vgw', 'up']);
    await ns.sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await client.sh('ip', ['addr', 'add', '10.252.0.2/24', 'dev', 'vclient']);
    await client.sh('ip', ['link', 'set', 'vclient', 'up']);
    await client.sh('ip', ['route', 'add', 'default', 'via', '10.252.0.1']);
  } catch (err) {
    await client.destroy();
    throw err;
  }
  return { ns: client, gateway: '10.252.0.1', stop: () => client.destroy() };
}

const CLIENT = `
const net = require('node:net'); const dgram = require('node:dgram');
const [proto, ip, port, n, wait] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const results = [];
function tcp() {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: wait });
    let data = '';
    s.on('data', (b) => { data += b; });
    s.on('end', () => resolve(data.trim()));
    s.on('timeout', () => { s.destroy(); resolve('TIMEOUT'); });
    s.on('error', (e) => resolve(e.code));
  });
}
function udp() {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    const t = setTimeout(() => { u.close(); resolve('TIMEOUT'); }, wait);
    u.on('message', (m) => { clearTimeout(t); u.close(); resolve(String(m).trim()); });
    u.on('error', (e) => { clearTimeout(t); u.close(); resolve(e.code); });
    u.send('hi', port, ip);
  });
}
(async () => { for (let i = 0; i < n; i++) results.push(await (proto === 'udp' ? udp() : tcp())); console.log(JSON.stringify(results)); })();`;

/**
 * `n` connections (or UDP requests, each from a fresh port) from inside `ns`; what each
 * got back (an address, an error code, or TIMEOUT after `waitMs`).
 */
export async function connectFrom(ns: TestNetns, proto: 'tcp' | 'udp', ip: string, port: number, n: number, waitMs = 10_000): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', CLIENT, proto, ip, String(port), String(n), String(waitMs)]);
  return JSON.parse(stdout.trim()) as string[];
}

/** A private netns as the applier tests use it: the host's rules copied in, backends in a peer netns, the service route in place. */
export interface ApplierNetns {
  ns: TestNetns;
  backends: Backends;
  /** `iptables-save` of the netns right after seeding, normalized. */
  seededIptables: string;
  /** Removes everything the proxy made (all modes), then the backends and the netns; safe after a failed start. */
  destroy(): Promise<void>;
}

export async function startApplierNetns(prefix: string, serviceCIDR: string): Promise<ApplierNetns> {
  const ns = await TestNetns.create(prefix);
  let backends: Backends | undefined;
  const destroy = async () => {
    try {
      await cleanupAll({ runner: ns.runner });
    } finally {
      await backends?.stop();
      await ns.destroy();
    }
  };
  try {
    await seedWithHostRules(ns);
    const seededIptables = normalizeIptablesSave(await ns.sh('iptables-save', []));
    backends = await startBackends(ns, 2);
    await new ServiceRoute({ serviceCIDR, runner: ns.runner }).ensure();
    return { ns, backends, seededIptables, destroy };
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
}

/**
 * The Services the applier tests program: `web` (TCP 80) and `dns` (UDP 53) on every
 * backend, and `empty` without endpoints, at ClusterIPs 10.250.0.<first>, +1 and +2.
 * `backends` is read when a Service is built, after the netns has started.
 */
export function applierServices(backends: () => Backends, first: number, serviceCIDR: string) {
  const ip = (i: number) => `10.250.0.${first + i}`;
  const onBackends = () => backends().ips.map((a) => endpoint(a, backends().port));
  return {
    web: () => servicePort('test', 'web', { clusterIP: ip(0), port: 80, endpoints: onBackends() }),
    dns: () => servicePort('test', 'dns', { protocol: 'UDP', clusterIP: ip(1), port: 53, endpoints: onBackends() }),
    empty: () => servicePort('test', 'empty', { clusterIP: ip(2), port: 80 }),
    stateOf: (...ports: ServicePortInfo[]): ProxyState => proxyState(ports, { serviceCIDR, clusterCIDR: '10.251.0.0/24' }),
  };
}
