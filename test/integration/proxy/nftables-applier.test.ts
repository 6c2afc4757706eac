// The nftables backend against the real kernel, in a private netns seeded with a copy
// of the host's iptables rules (which it must not touch). Clients connect from inside
// that netns to test ClusterIPs (10.250.0.0/16); backends answer from a peer netns.
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { deleteNftablesTable, NftablesApplyError, NftablesBackend } from '../../../agent/network/proxy/nftables-applier.js';
import { nftServiceChainBase } from '../../../agent/network/proxy/chain-names.js';
import { serviceKey } from '../../../agent/network/proxy/service-model.js';
import type { CommandRunner } from '../../../agent/network/proxy/host-command.js';
import { endpoint, servicePort } from '../../unit/network/proxy/proxy-fixtures.js';
import {
  connectFrom,
  startRemoteClient,
  normalizeIptablesSave,
  type TestNetns,
  type Backends,
  applierServices,
  startApplierNetns,
  type ApplierNetns,
} from './netns-fixture.js';

const SERVICE_CIDR = '10.250.0.0/16';

describe('nftables backend (real kernel, private netns)', () => {
  let ns: TestNetns;
  let backends: Backends;
  let backend: NftablesBackend;
  let seededIptables: string;

  const { web, dns, empty, stateOf } = applierServices(() => backends, 20, SERVICE_CIDR);
  const table = async () => ns.sh('nft', ['list', 'table', 'ip', 'nodelet']);
  const chain = async (name: string) => ns.runner.run('nft', ['list', 'chain', 'ip', 'nodelet', name]);

  let env: ApplierNetns | undefined;

  beforeAll(async () => {
    env = await startApplierNetns('nft', SERVICE_CIDR);
    ({ ns, backends, seededIptables: seededIptables } = env);
    backend = new NftablesBackend({ runner: ns.runner });
    await backend.start();
  });

  afterAll(async () => {
    await env?.destroy();
  });

  it('spreads ClusterIP traffic over the endpoints and rejects a Service without endpoints at once', async () => {
    const result = await backend.sync(stateOf(web(), dns(), empty()), 'full');
    expect(result.full).toBe(true);
    expect(result.rules).toBeGreaterThan(10);
    expect(new Set(await connectFrom(ns, 'tcp', '10.250.0.20', 80, 24))).toEqual(new Set(backends.ips));
    expect(new Set(await connectFrom(ns, 'udp', '10.250.0.21', 53, 24))).toEqual(new Set(backends.ips));
    expect(await connectFrom(ns, 'tcp', '10.250.0.22', 80, 1)).toEqual(['ECONNREFUSED']);
  });

  it('serves a forwarded client (PREROUTING path) on the ClusterIP and on a NodePort', async () => {
    const remote = await startRemoteClient(ns);
    try {
      const nodePort = servicePort('test', 'np', {
        clusterIP: '10.250.0.23',
        port: 80,
        nodePort: 30080,
        endpoints: backends.ips.map((ip) => endpoint(ip, backends.port)),
      });
      await backend.sync(stateOf(web(), dns(), empty(), nodePort), 'full');
      // The seeded copy of Docker's rules drops forwarded traffic (FORWARD policy DROP).
      // An accept in our own table cannot override a drop in another table, so, as with
      // kube-proxy's nftables mode, the operator allows it: here in DOCKER-USER, Docker's
      // place for that. (Pods on Docker bridges are accepted by Docker's own rules.)
      await ns.sh('iptables', ['-w', '-I', 'DOCKER-USER', '-i', 'vgw', '-j', 'ACCEPT']);
      await ns.sh('iptables', ['-w', '-I', 'DOCKER-USER', '-o', 'vgw', '-j', 'ACCEPT']);
      expect(new Set(await connectFrom(remote.ns, 'tcp', '10.250.0.20', 80, 16))).toEqual(new Set(backends.ips));
      expect(new Set(await connectFrom(remote.ns, 'tcp', remote.gateway, 30080, 16))).toEqual(new Set(backends.ips));
      expect(await connectFrom(remote.ns, 'tcp', '10.250.0.22', 80, 1)).toEqual(['ECONNREFUSED']);
      await backend.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(nodePort)]));
    } finally {
      await ns.runner.run('iptables', ['-w', '-D', 'DOCKER-USER', '-i', 'vgw', '-j', 'ACCEPT']);
      await ns.runner.run('iptables', ['-w', '-D', 'DOCKER-USER', '-o', 'vgw', '-j', 'ACCEPT']);
      await remote.stop();
    }
  });

  it('writes only its own table and leaves every iptables rule (Docker chains included) alone', async () => {
    expect(normalizeIptablesSave(await ns.sh('iptables-save', []))).toEqual(seededIptables);
    const tables = (await ns.sh('nft', ['list', 'tables'])).trim().split('\n');
    expect(tables).toContain('table ip nodelet');
    expect(tables.filter((t) => t !== 'table ip nodelet').every((t) => t === 'table ip nat' || t === 'table ip filter')).toBe(true);
  });

  it('rewrites only the changed Service in a partial sync', async () => {
    const dnsChain = `service-${nftServiceChainBase(dns().name)}`;
    const dnsBefore = await chain(dnsChain);
    expect(dnsBefore.code).toBe(0);
    const webChain = `service-${nftServiceChainBase(web().name)}`;
    const removedTarget = `dnat to ${backends.ips[1]!}:${backends.port}`;
    expect((await chain(webChain)).stdout).toContain(removedTarget);

    const oneEndpoint = { ...web(), endpoints: [endpoint(backends.ips[0]!, backends.port)] };
    const result = await backend.sync(stateOf(oneEndpoint, dns(), empty()), new Set([serviceKey(oneEndpoint)]));
    expect(result.full).toBe(false);
    expect(new Set(await connectFrom(ns, 'tcp', '10.250.0.20', 80, 8))).toEqual(new Set([backends.ips[0]]));
    expect((await chain(dnsChain)).stdout).toEqual(dnsBefore.stdout);
    expect((await chain(webChain)).stdout).not.toContain(removedTarget);
  });

  it('removes a removed Service from the dispatch maps', async () => {
    expect(await table()).toContain('10.250.0.21 . udp . 53');
    const result = await backend.sync(stateOf(web(), empty()), new Set([serviceKey(dns()), serviceKey(web())]));
    expect(result.full).toBe(false);
    expect(await table()).not.toContain('10.250.0.21');

    // Its emptied chain is deleted by the next sync (deferred, as kube-proxy does).
    const dnsChain = `service-${nftServiceChainBase(dns().name)}`;
    expect((await chain(dnsChain)).code).toBe(0);
    await backend.sync(stateOf(web(), empty()), new Set());
    expect((await chain(dnsChain)).code).not.toBe(0);
  });

  it('describes the rules of one Service', () => {
    const lines = backend.describe(serviceKey(web()));
    const svcChain = `service-${nftServiceChainBase(web().name)}`;
    expect(lines.some((l) => l.startsWith(`add rule ip nodelet ${svcChain} `) && l.includes('numgen random mod 2'))).toBe(true);
    expect(lines).toContain(`add element ip nodelet service-ips { 10.250.0.20 . tcp . 80 : goto ${svcChain} }`);
    expect(lines.filter((l) => l.includes('dnat to'))).toHaveLength(2);
    expect(backend.describe('test/nope/TCP')).toEqual([]);
  });

  it('leaves the table as it was when nft refuses a transaction, and rebuilds it next time', async () => {
    let corrupt = false;
    const runner: CommandRunner = {
      run: (command, args, options) =>
        ns.runner.run(
          command,
          args,
          corrupt && command === 'nft' && options?.input?.includes('add rule')
            ? { ...options, input: `${options.input}add rule ip nodelet services jump no-such-chain\n` }
            : options,
        ),
    };
    const b = new NftablesBackend({ runner });
    await b.sync(stateOf(web(), empty()), 'full');
    const baseline = await table();

    corrupt = true;
    const err = await b.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(dns())])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftablesApplyError);
    expect((err as Error).message).toMatch(/^nft refused the ip nodelet transaction \(exit 1\): .*no-such-chain.*the next sync rebuilds the table$/);
    expect(await table()).toEqual(baseline);

    corrupt = false;
    const next = await b.sync(stateOf(web(), dns(), empty()), new Set([serviceKey(dns())]));
    expect(next.full).toBe(true);
    expect(new Set(await connectFrom(ns, 'udp', '10.250.0.21', 53, 16))).toEqual(new Set(backends.ips));
  });

  it('deletes its table, and again without complaint', async () => {
    await deleteNftablesTable(ns.runner);
    expect(await ns.sh('nft', ['list', 'tables'])).not.toContain('nodelet');
    await expect(deleteNftablesTable(ns.runner)).resolves.toBeUndefined();
    expect(normalizeIptablesSave(await ns.sh('iptables-save', []))).toEqual(seededIptables);
  });
});
