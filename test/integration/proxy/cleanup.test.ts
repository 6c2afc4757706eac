// `nodelet proxy --cleanup` against the real kernel, in private netns: after syncs in
// iptables and nftables modes, iptables-save (comments and counters aside), nft list
// ruleset, the links and the routes must be exactly as before the proxy started.
import { afterEach, describe, it, expect } from 'vitest';
import { IptablesBackend } from '../../../agent/network/proxy/iptables-applier.js';
import { NftablesBackend } from '../../../agent/network/proxy/nftables-applier.js';
import { checkIpvsSupport, cleanupIpvs } from '../../../agent/network/proxy/ipvs-applier.js';
import { cleanupAll, cleanupOtherModes } from '../../../agent/network/proxy/proxy-cleanup.js';
import { SERVICE_ROUTE_INTERFACE, ServiceRoute } from '../../../agent/network/proxy/service-route.js';
import type { ProxyState } from '../../../agent/network/proxy/service-model.js';
import { endpoint, proxyState, servicePort } from '../../unit/network/proxy/proxy-fixtures.js';
import { dockerChains, seedWithHostRules, snapshot, TestNetns } from './netns-fixture.js';

const SERVICE_CIDR = '10.250.0.0/16';

function smallState(): ProxyState {
  return proxyState(
    [
      servicePort('test', 'web', { clusterIP: '10.250.0.30', endpoints: [endpoint('10.251.0.2'), endpoint('10.251.0.3')], stickySeconds: 10800 }),
      servicePort('test', 'dns', { protocol: 'UDP', clusterIP: '10.250.0.31', port: 53, endpoints: [endpoint('10.251.0.2', 53)] }),
      servicePort('test', 'np', { clusterIP: '10.250.0.32', nodePort: 30081, endpoints: [endpoint('10.251.0.3')], externalTrafficLocal: true }),
      servicePort('test', 'empty', { clusterIP: '10.250.0.33' }),
    ],
    { serviceCIDR: SERVICE_CIDR, clusterCIDR: '10.251.0.0/24' },
  );
}

describe('proxy cleanup (real kernel, private netns)', () => {
  let ns: TestNetns | undefined;

  afterEach(async () => {
    if (!ns) return;
    try {
      await cleanupAll({ runner: ns.runner });
    } finally {
      await ns.destroy();
      ns = undefined;
    }
  });

  it('leaves a netns that had no rules at all exactly as it was', async () => {
    ns = await TestNetns.create('clean0');
    const before = await snapshot(ns);
    expect(before.iptables.trim()).toBe('');

    await new ServiceRoute({ serviceCIDR: SERVICE_CIDR, runner: ns.runner }).ensure();
    await new IptablesBackend({ runner: ns.runner }).sync(smallState(), 'full');
    const during = await snapshot(ns);
    expect(during.iptables).toContain(':KUBE-SERVICES');
    // The tables and built-in chains came to exist because of us: marked so cleanup removes them.
    for (const marker of ['NODELET-NEW-TABLE', 'NODELET-NEW-INPUT', 'NODELET-NEW-OUTPUT', 'NODELET-NEW-PREROUTING']) {
      expect(during.iptables).toContain(`:${marker} `);
    }
    expect(during.links).toContain(SERVICE_ROUTE_INTERFACE);
    expect(during.routes).toContain(`${SERVICE_CIDR} dev ${SERVICE_ROUTE_INTERFACE}`);

    await cleanupAll({ runner: ns.runner });
    expect(await snapshot(ns)).toEqual(before);
    await cleanupAll({ runner: ns.runner });
    expect(await snapshot(ns)).toEqual(before);
  });

  it("leaves Docker's rules untouched by syncs in both modes and everything exactly as before after cleanup", async () => {
    ns = await TestNetns.create('clean1');
    await seedWithHostRules(ns);
    const before = await snapshot(ns);
    const docker = dockerChains(before.iptables);
    expect(docker.size).toBeGreaterThan(0);

    await new ServiceRoute({ serviceCIDR: SERVICE_CIDR, runner: ns.runner }).ensure();
    const iptables = new IptablesBackend({ runner: ns.runner });
    await iptables.sync(smallState(), 'full');
    const changed = new Set([...smallState().services.keys()].slice(0, 1));
    await iptables.sync(smallState(), changed);
    await new NftablesBackend({ runner: ns.runner }).sync(smallState(), 'full');

    const during = await snapshot(ns);
    expect(dockerChains(during.iptables)).toEqual(docker);
    expect(during.iptables).toContain(':KUBE-SVC-');
    expect(during.nft).toContain('table ip nodelet');

    await cleanupAll({ runner: ns.runner });
    const after = await snapshot(ns);
    expect(after.iptables).toEqual(before.iptables);
    expect(after.nft).toEqual(before.nft);
    expect(after).toEqual(before);

    await cleanupAll({ runner: ns.runner });
    expect(await snapshot(ns)).toEqual(before);
  });

  it("removes the other modes' rules when a mode starts", async () => {
    ns = await TestNetns.create('clean2');
    // As a host whose rules were loaded by iptables-restore: every built-in chain exists.
    await seedWithHostRules(ns, { asOnHost: false });
    const before = await snapshot(ns);

    await new IptablesBackend({ runner: ns.runner }).sync(smallState(), 'full');
    expect((await snapshot(ns)).iptables).not.toContain('NODELET-NEW-'); // every built-in chain already existed
    await cleanupOtherModes('nftables', { runner: ns.runner });
    expect((await snapshot(ns)).iptables).toEqual(before.iptables);

    await new NftablesBackend({ runner: ns.runner }).sync(smallState(), 'full');
    await cleanupOtherModes('iptables', { runner: ns.runner });
    expect((await snapshot(ns)).nft).toEqual(before.nft);
    expect(await snapshot(ns)).toEqual(before);
  });

  it('removes what a backend wrote through its own cleanup', async () => {
    ns = await TestNetns.create('clean3');
    await seedWithHostRules(ns);
    const before = await snapshot(ns);
    const iptables = new IptablesBackend({ runner: ns.runner });
    const nftables = new NftablesBackend({ runner: ns.runner });
    await iptables.sync(smallState(), 'full');
    await nftables.sync(smallState(), 'full');
    await iptables.cleanup();
    await nftables.cleanup();
    expect(await snapshot(ns)).toEqual(before);
    // A backend that cleaned up starts over with a full sync.
    expect((await iptables.sync(smallState(), new Set())).full).toBe(true);
  });

  it('skips IPVS quietly on this kernel, which has none, and refuses IPVS mode with a clear message', async () => {
    ns = await TestNetns.create('clean4');
    const before = await snapshot(ns);
    await expect(cleanupIpvs(ns.runner)).resolves.toBeUndefined();
    expect(await snapshot(ns)).toEqual(before);
    const support = await checkIpvsSupport();
    expect(support.ok).toBe(false);
    expect(!support.ok && support.reason).toMatch(
      /^IPVS mode needs the ip_vs kernel module, which this kernel \(.+\) does not have \(\/proc\/net\/ip_vs does not exist.*\); use --mode iptables or --mode nftables$/,
    );
  });
});
