// The iptables backend against the real kernel, in a private netns seeded with a copy
// of the host's rules (Docker's chains included). Clients connect from inside that
// netns to test ClusterIPs (10.250.0.0/16); backends answer from a peer netns.
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { IptablesBackend, IptablesRestoreError } from '../../../agent/network/proxy/iptables-applier.js';
import { clearUdpConntrack } from '../../../agent/network/proxy/conntrack.js';
import { iptablesJumpRules, KUBE_PROXY_CANARY, KUBE_SERVICES } from '../../../agent/network/proxy/iptables-rules.js';
import { endpointChain, serviceClusterChain } from '../../../agent/network/proxy/chain-names.js';
import { serviceKey } from '../../../agent/network/proxy/service-model.js';
import type { CommandRunner } from '../../../agent/network/proxy/host-command.js';
import { endpoint, servicePort } from '../../unit/network/proxy/proxy-fixtures.js';
import {
  connectFrom,
  startRemoteClient,
  dockerChains,
  normalizeIptablesSave,
  type TestNetns,
  type Backends,
  applierServices,
  startApplierNetns,
  type ApplierNetns,
} from './netns-fixture.js';

const SERVICE_CIDR = '10.250.0.0/16';

describe('iptables backend (real kernel, private netns)', () => {
  let ns: TestNetns;
  let backends: Backends;
  let backend: IptablesBackend;
  let seeded: string;

  const { web, dns, empty, stateOf } = applierServices(() => backends, 10, SERVICE_CIDR);
  const natSave = async () => ns.sh('iptables-save', ['-t', 'nat']);

  let env: ApplierNetns | undefined;

  beforeAll(async () => {
    env = await startApplierNetns('ipt', SERVICE_CIDR);
    ({ ns, backends, seededIptables: seeded } = env);
    backend = new IptablesBackend({ runner: ns.runner });
    await backend.start();
  });

  afterAll(async () => {
    await env?.destroy();
  });

  it('spreads ClusterIP traffic over the endpoints and rejects a Service without endpoints at once', async () => {
    const result = await backend.sync(stateOf(web(), dns(), empty()), 'full');
    expect(result.full).toBe(true);
    expect(result.rules).toBeGreaterThan(10);

    const tcp = await connectFrom(ns, 'tcp', '10.250.0.10', 80, 24);
    expect(new Set(tcp)).toEqual(new Set(backends.ips));
    const udp = await connectFrom(ns, 'udp', '10.250.0.11', 53, 24);
    expect(new Set(udp)).toEqual(new Set(backends.ips));
    expect(await connectFrom(ns, 'tcp', '10.250.0.12', 80, 1)).toEqual(['ECONNREFUSED']);
  });

  it('serves a forwarded client (PREROUTING path) on the ClusterIP and on a NodePort', async () => {
    const remote = await startRemoteClient(ns);
    try {
      const nodePort = servicePort('test', 'np', {
        clusterIP: '10.250.0.13',
        port: 80,
        nodePort: 30080,
        endpoints: backends.ips.map((ip) => endpoint(ip, backends.port)),
      });
      await backend.sync(stateOf(web(), dns(), empty(), nodePort), 'full');
      expect(new Set(await connectFrom(remote.ns, 'tcp', '10.250.0.10', 80, 16))).toEqual(new Set(backends.ips));
      expect(new Set(await connectFrom(remote.ns, 'tcp', remote.gateway, 30080, 16))).toEqual(new Set(backends.ips));
      expect(await connectFrom(remote.ns, 'tcp', '10.250.0.12', 80, 1)).toEqual(['ECONNREFUSED']);
      await backend.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(nodePort)]));
    } finally {
      await remote.stop();
    }
  });

  it('deletes the UDP conntrack entries of a removed endpoint and keeps the others', async () => {
    await connectFrom(ns, 'udp', '10.250.0.11', 53, 16);
    const replySources = async () => {
      const r = await ns.runner.run('conntrack', ['-L', '-p', 'udp', '--orig-dst', '10.250.0.11']);
      return new Set([...r.stdout.matchAll(/dport=53 src=(\S+)/g)].map((m) => m[1]));
    };
    expect(await replySources()).toEqual(new Set(backends.ips));
    const deleted = await clearUdpConntrack({ serviceIP: '10.250.0.11', port: 53, endpointIP: backends.ips[1]! }, ns.runner);
    expect(deleted).toBeGreaterThan(0);
    expect(await replySources()).toEqual(new Set([backends.ips[0]]));
    await expect(clearUdpConntrack({ serviceIP: '10.250.0.11', port: 53, endpointIP: backends.ips[1]! }, ns.runner)).resolves.toBe(0);
  });

  it('hooks its chains into the built-in chains and leaves the Docker chains as they were', async () => {
    for (const jump of iptablesJumpRules()) {
      const check = await ns.runner.run('iptables', ['-w', '-t', jump.table, '-C', jump.chain, ...jump.rule]);
      expect(check.code, `${jump.table} ${jump.chain} -j ${jump.rule.at(-1)}`).toBe(0);
    }
    const now = normalizeIptablesSave(await ns.sh('iptables-save', []));
    const docker = dockerChains(seeded);
    expect(docker.size).toBeGreaterThan(0);
    expect(dockerChains(now)).toEqual(docker);
    // Everything seeded is still there, in order, apart from our inserted jumps.
    const ours = /KUBE-|NODELET-NEW-/;
    expect(now.split('\n').filter((l) => !ours.test(l))).toEqual(seeded.split('\n'));
  });

  it('rewrites only the changed Service in a partial sync and deletes its stale chains', async () => {
    const before = await natSave();
    const removedSep = endpointChain(web().name, backends.ips[1]!, backends.port);
    const dnsChain = serviceClusterChain(dns().name);
    expect(before).toContain(`:${removedSep} `);

    const oneEndpoint = { ...web(), endpoints: [endpoint(backends.ips[0]!, backends.port)] };
    const result = await backend.sync(stateOf(oneEndpoint, dns(), empty()), new Set([serviceKey(oneEndpoint)]));
    expect(result.full).toBe(false);

    const after = await natSave();
    expect(after).not.toContain(removedSep);
    const rulesOf = (save: string, chain: string) => save.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
    expect(rulesOf(after, dnsChain)).toEqual(rulesOf(before, dnsChain));
    expect(rulesOf(after, dnsChain).length).toBeGreaterThan(0);
    expect(new Set(await connectFrom(ns, 'tcp', '10.250.0.10', 80, 8))).toEqual(new Set([backends.ips[0]]));
  });

  it('removes the chains of a removed Service', async () => {
    const dnsChain = serviceClusterChain(dns().name);
    expect(await natSave()).toContain(`:${dnsChain} `);
    const result = await backend.sync(stateOf(web(), empty()), new Set([serviceKey(dns()), serviceKey(web())]));
    expect(result.full).toBe(false);
    const save = await natSave();
    expect(save).not.toContain(dnsChain);
    expect(save).not.toContain('10.250.0.11');
  });

  it('describes the rules of one Service', () => {
    const lines = backend.describe(serviceKey(web()));
    expect(lines.some((l) => l.startsWith(`-t nat -A ${KUBE_SERVICES} -d 10.250.0.10/32`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`-t nat -A ${serviceClusterChain(web().name)} `))).toBe(true);
    expect(lines.filter((l) => l.includes('DNAT --to-destination'))).toHaveLength(2);
    expect(backend.describe('test/nope/TCP')).toEqual([]);
  });

  it('notices a flushed canary and repairs everything with a full sync', async () => {
    await ns.sh('iptables', ['-w', '-t', 'nat', '-F', KUBE_PROXY_CANARY]);
    await ns.sh('iptables', ['-w', '-t', 'nat', '-F', KUBE_SERVICES]);
    // Without our rules the packet goes to the sink interface and dies on the node.
    expect(await connectFrom(ns, 'tcp', '10.250.0.10', 80, 1, 1_000)).toEqual(['TIMEOUT']);
    const result = await backend.sync(stateOf(web(), empty()), new Set());
    expect(result.full).toBe(true);
    expect(new Set(await connectFrom(ns, 'tcp', '10.250.0.10', 80, 16))).toEqual(new Set(backends.ips));
  });

  it('leaves the previous ruleset in place when the restore fails, and syncs fully next time', async () => {
    // The kernel refuses a jump to a chain that does not exist: the transaction goes.
    let corrupt = false;
    const runner: CommandRunner = {
      run: (command, args, options) =>
        ns.runner.run(
          command,
          args,
          corrupt && command === 'iptables-restore' && options?.input
            ? { ...options, input: options.input.replace('COMMIT\n*filter\n', '-A KUBE-SERVICES -j NO-SUCH-CHAIN\nCOMMIT\n*filter\n') }
            : options,
        ),
    };
    const b = new IptablesBackend({ runner });
    await b.sync(stateOf(web(), empty()), 'full');
    const baseline = normalizeIptablesSave(await ns.sh('iptables-save', []));

    corrupt = true;
    const err = await b.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(dns())])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IptablesRestoreError);
    expect((err as Error).message).toMatch(
      /^iptables-restore refused the ruleset \(exit 2\): .*Chain 'NO-SUCH-CHAIN' does not exist.*the previous rules stay in place and the next sync is full$/,
    );
    expect(normalizeIptablesSave(await ns.sh('iptables-save', []))).toEqual(baseline);

    corrupt = false;
    const next = await b.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(dns())]));
    expect(next.full).toBe(true);
    expect(new Set(await connectFrom(ns, 'udp', '10.250.0.11', 53, 16))).toEqual(new Set(backends.ips));
  });
});
