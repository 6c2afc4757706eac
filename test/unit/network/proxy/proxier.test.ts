import { describe, it, expect } from 'vitest';
import { FakeClock } from '../../../../agent/api/clock.js';
import { Proxier, sameServicePort } from '../../../../agent/network/proxy/proxier.js';
import type { BackendSyncResult, ProxyBackend } from '../../../../agent/network/proxy/proxy-backend.js';
import { ProxyMetrics } from '../../../../agent/network/proxy/proxy-metrics.js';
import { IpvsBackend, checkIpvsSupport, parseIpvsadmSave } from '../../../../agent/network/proxy/ipvs-applier.js';
import { conntrackDeleteArgs, clearUdpConntrack, staleUdpConntrackFilters, type UdpConntrackFilter } from '../../../../agent/network/proxy/conntrack.js';
import type { CommandResult, CommandRunner } from '../../../../agent/network/proxy/host-command.js';
import { serviceKey, type ProxyState, type ServicePortInfo } from '../../../../agent/network/proxy/service-model.js';
import { endpoint, servicePort } from './proxy-fixtures.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

class FakeBackend implements ProxyBackend {
  readonly mode = 'iptables' as const;
  syncs: Array<{ services: string[]; changed: string[] | 'full' }> = [];
  states: ProxyState[] = [];
  failNext = 0;
  started = false;
  async start(): Promise<void> {
    this.started = true;
  }
  async sync(state: ProxyState, changed: Set<string> | 'full'): Promise<BackendSyncResult> {
    this.syncs.push({ services: [...state.services.keys()].sort(), changed: changed === 'full' ? 'full' : [...changed].sort() });
    this.states.push(state);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('iptables-restore: line 7 failed');
    }
    return { rules: state.services.size * 3, full: changed === 'full' };
  }
  async cleanup(): Promise<void> {}
  describe(key: string): string[] {
    return [`-t nat -A KUBE-SVC-TEST -j KUBE-SEP-TEST # ${key}`];
  }
}

function mapOf(...ports: ServicePortInfo[]): Map<string, ServicePortInfo> {
  return new Map(ports.map((p) => [serviceKey(p), p]));
}

function setup(extra: Partial<ConstructorParameters<typeof Proxier>[0]> = {}) {
  const clock = new FakeClock(0);
  const backend = new FakeBackend();
  const metrics = new ProxyMetrics();
  const cleared: UdpConntrackFilter[][] = [];
  const proxier = new Proxier({
    backend,
    clock,
    metrics,
    minSyncMs: 1_000,
    maxSyncMs: 30_000,
    serviceCIDR: '10.96.0.0/12',
    nodeIPs: ['192.0.2.2'],
    conntrack: {
      clear: async (f) => {
        cleared.push(f);
      },
    },
    ...extra,
  });
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  return { clock, backend, metrics, cleared, proxier, advance };
}

const web = servicePort('default', 'web', { clusterIP: '10.96.0.10', endpoints: [endpoint('10.88.0.2'), endpoint('10.88.0.3')] });
const dns = servicePort('kube-system', 'dns', {
  portName: 'dns',
  protocol: 'UDP',
  clusterIP: '10.96.0.53',
  port: 53,
  endpoints: [endpoint('10.88.0.7', 53), endpoint('10.88.0.8', 53)],
});

describe('Proxier', () => {
  it('writes no rule before the inputs have synced, then one full sync of the latest model', async () => {
    const h = setup();
    await h.proxier.start();
    h.proxier.update(mapOf(web));
    h.proxier.update(mapOf(web, dns));
    await h.advance(5_000);
    expect(h.backend.syncs).toEqual([]);
    h.proxier.setSynced();
    await h.advance(100);
    expect(h.backend.syncs).toEqual([{ services: [serviceKey(dns), serviceKey(web)].sort(), changed: 'full' }]);
    expect(h.backend.states[0]).toMatchObject({ serviceCIDR: '10.96.0.0/12', nodeIPs: ['192.0.2.2'] });
  });

  it('writes no rule before start even when the inputs have synced', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.advance(5_000);
    expect(h.backend.syncs).toEqual([]);
    await h.proxier.start();
    await h.advance(100);
    expect(h.backend.syncs).toHaveLength(1);
  });

  it('passes only the added, changed and removed Service keys to a partial sync', async () => {
    const h = setup();
    h.proxier.update(mapOf(web, dns));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(1_000);
    const api = servicePort('default', 'api', { clusterIP: '10.96.0.20', endpoints: [endpoint('10.88.0.9')] });
    const web2 = { ...web, endpoints: [endpoint('10.88.0.2')] };
    h.proxier.update(mapOf(web2, api)); // web changed, api added, dns removed
    await h.advance(1_000);
    expect(h.backend.syncs.at(-1)).toEqual({
      services: [serviceKey(api), serviceKey(web)].sort(),
      changed: [serviceKey(api), serviceKey(dns), serviceKey(web)].sort(),
    });
  });

  it('does not sync for an update equal to the model (new objects, same content)', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(1_000);
    h.proxier.update(mapOf({ ...web, endpoints: web.endpoints.map((e) => ({ ...e })) }));
    await h.advance(5_000);
    expect(h.backend.syncs).toHaveLength(1);
  });

  it('retries a failed sync in full, keeps the changed keys, and counts the failure', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(1_000);
    h.backend.failNext = 1;
    h.proxier.update(mapOf(web, dns));
    await h.advance(1_000);
    expect(h.backend.syncs.at(-1)?.changed).toEqual([serviceKey(dns)]);
    await h.advance(2_000);
    expect(h.backend.syncs.at(-1)?.changed).toBe('full');
    expect(h.proxier.serviceKeys()).toEqual([serviceKey(dns), serviceKey(web)].sort());
    const text = h.metrics.render();
    expect(text).toContain('nodelet_proxy_sync_failures_total 1\n');
    expect(text).toContain('nodelet_proxy_sync_duration_seconds_count{sync="full"} 2\n');
  });

  it('records metrics and the last successful sync time', async () => {
    const h = setup();
    h.proxier.update(mapOf(web, dns));
    h.proxier.setSynced();
    await h.proxier.start();
    expect(h.proxier.startedAt()).toBe(0);
    expect(h.proxier.lastSyncedAt()).toBeUndefined();
    await h.advance(100);
    expect(h.proxier.lastSyncedAt()).toBe(100); // when the sync finished
    h.proxier.update(mapOf(web));
    await h.advance(1_500);
    expect(h.proxier.lastSyncedAt()).toBe(1_000);
    const text = h.metrics.render();
    expect(text).toContain('nodelet_proxy_rules_written_total 9\n'); // 2 Services × 3 + 1 × 3
    expect(text).toContain('nodelet_proxy_sync_duration_seconds_count{sync="partial"} 1\n');
    expect(text).toContain('nodelet_proxy_last_sync_timestamp_seconds 1\n');
  });

  it('deletes stale UDP conntrack entries after the sync that removed an endpoint, not for TCP', async () => {
    const h = setup();
    h.proxier.update(mapOf(web, dns));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(1_000);
    expect(h.cleared).toEqual([]); // the first sync has no "before" to compare with
    h.proxier.update(mapOf({ ...web, endpoints: [] }, { ...dns, endpoints: [endpoint('10.88.0.8', 53)] }));
    await h.advance(1_000);
    expect(h.cleared).toEqual([[{ serviceIP: '10.96.0.53', port: 53, endpointIP: '10.88.0.7' }]]);
  });

  it('ensures the service route before full syncs and removes other modes once, before any rule', async () => {
    const order: string[] = [];
    const h = setup({
      serviceRoute: {
        ensure: async () => {
          order.push('route');
        },
      },
      cleanupOtherModes: async () => {
        order.push('cleanup');
      },
      fullSyncMs: 30_000,
    });
    const sync = h.backend.sync.bind(h.backend);
    h.backend.sync = async (s, c) => {
      order.push(c === 'full' ? 'full' : 'partial');
      return sync(s, c);
    };
    h.proxier.update(mapOf(web));
    await h.proxier.start();
    h.proxier.setSynced();
    await h.advance(100);
    h.proxier.update(mapOf(web, dns));
    await h.advance(1_000);
    await h.advance(30_000, 1_000);
    expect(order).toEqual(['cleanup', 'route', 'full', 'partial', 'route', 'full']);
  });

  it('syncs partially every maxSyncMs and fully once an hour by default', async () => {
    const h = setup();
    const kinds: string[] = [];
    const sync = h.backend.sync.bind(h.backend);
    h.backend.sync = async (s, c) => {
      kinds.push(c === 'full' ? 'full' : 'partial');
      return sync(s, c);
    };
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(95_000, 1_000);
    expect(kinds).toEqual(['full', 'partial', 'partial', 'partial']);
    await h.advance(3_600_000 - 95_000 + 1_000, 30_000);
    expect(kinds.at(-1)).toBe('full');
  });

  it('shows one Service port with its endpoints and the backend rules', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(100);
    expect(h.proxier.rulesFor(serviceKey(web))).toEqual({
      key: 'default/web/TCP',
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      port: 80,
      protocol: 'TCP',
      nodePort: 0,
      externalIPs: [],
      endpoints: ['10.88.0.2:8080', '10.88.0.3:8080'],
      rules: ['-t nat -A KUBE-SVC-TEST -j KUBE-SEP-TEST # default/web/TCP'],
    });
    expect(h.proxier.rulesFor('default/nope/TCP')).toBeUndefined();
  });

  it('rewrites every rule when the node addresses change', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(1_000);
    h.proxier.setNodeIPs(['192.0.2.3']);
    await h.advance(1_000);
    expect(h.backend.syncs.at(-1)?.changed).toBe('full');
    expect(h.backend.states.at(-1)?.nodeIPs).toEqual(['192.0.2.3']);
  });

  it('stops syncing on stop', async () => {
    const h = setup();
    h.proxier.update(mapOf(web));
    h.proxier.setSynced();
    await h.proxier.start();
    await h.advance(100);
    await h.proxier.stop();
    h.proxier.update(mapOf(web, dns));
    await h.advance(60_000, 1_000);
    expect(h.backend.syncs).toHaveLength(1);
  });
});

describe('sameServicePort', () => {
  it('compares every field the rules depend on', () => {
    expect(sameServicePort(web, { ...web })).toBe(true);
    expect(sameServicePort(web, { ...web, stickySeconds: 10800 })).toBe(false);
    expect(sameServicePort(web, { ...web, endpoints: [endpoint('10.88.0.2'), endpoint('10.88.0.3', 8080, { ready: false })] })).toBe(false);
    expect(sameServicePort(web, { ...web, externalIPs: ['203.0.113.1'] })).toBe(false);
    expect(sameServicePort(web, undefined)).toBe(false);
  });
});

describe('stale UDP conntrack filters', () => {
  it('names the removed endpoints for every Service address and the NodePort', () => {
    const before = { ...dns, nodePort: 30053, externalIPs: ['203.0.113.5'] };
    const after = { ...before, endpoints: [endpoint('10.88.0.8', 53)] };
    expect(staleUdpConntrackFilters(before, after)).toEqual([
      { serviceIP: '10.96.0.53', port: 53, endpointIP: '10.88.0.7' },
      { serviceIP: '203.0.113.5', port: 53, endpointIP: '10.88.0.7' },
      { port: 30053, endpointIP: '10.88.0.7' },
    ]);
  });

  it('clears the whole Service address when it gets its first endpoint', () => {
    expect(staleUdpConntrackFilters({ ...dns, endpoints: [] }, dns)).toEqual([{ serviceIP: '10.96.0.53', port: 53 }]);
  });

  it('clears every endpoint of a deleted Service and nothing for TCP', () => {
    expect(staleUdpConntrackFilters(dns, undefined)).toHaveLength(2);
    expect(staleUdpConntrackFilters(web, { ...web, endpoints: [] })).toEqual([]);
  });

  it('builds conntrack arguments and refuses an empty filter', () => {
    expect(conntrackDeleteArgs({ serviceIP: '10.96.0.53', port: 53, endpointIP: '10.88.0.7' })).toEqual([
      '-D',
      '-p',
      'udp',
      '--orig-dst',
      '10.96.0.53',
      '--orig-port-dst',
      '53',
      '--dst-nat',
      '10.88.0.7',
    ]);
    expect(() => conntrackDeleteArgs({})).toThrow(/at least one of serviceIP, port or endpointIP/);
    expect(() => conntrackDeleteArgs({ port: 70000 })).toThrow(/port 70000/);
  });

  it('treats "0 flow entries" (exit 1) as success', async () => {
    const runner = fakeRunner(() => ({ code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' }));
    await expect(clearUdpConntrack({ serviceIP: '10.96.0.53' }, runner)).resolves.toBe(0);
    const three = fakeRunner(() => ({ code: 0, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n' }));
    await expect(clearUdpConntrack({ serviceIP: '10.96.0.53' }, three)).resolves.toBe(3);
    const broken = fakeRunner(() => ({ code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters\n' }));
    await expect(clearUdpConntrack({ serviceIP: '10.96.0.53' }, broken)).rejects.toThrow(/conntrack -D -p udp --orig-dst 10.96.0.53 failed \(exit 1\)/);
  });
});

function fakeRunner(answer: (command: string, args: readonly string[]) => CommandResult): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: async (command, args) => {
      calls.push([command, ...args].join(' '));
      return answer(command, args);
    },
  };
}

describe('IPVS mode on a kernel without IPVS', () => {
  const noFile = async (p: string): Promise<Buffer> => {
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  };

  it('reports what is missing', async () => {
    const runner = fakeRunner(() => ({ code: 127, stdout: '', stderr: 'modprobe: command not found' }));
    const support = await checkIpvsSupport({ runner, readFile: noFile, kernelRelease: '6.18.44-test' });
    expect(support).toEqual({
      ok: false,
      reason:
        'IPVS mode needs the ip_vs kernel module, which this kernel (6.18.44-test) does not have (/proc/net/ip_vs does not exist; modprobe is not installed); use --mode iptables or --mode nftables',
    });
  });

  it('quotes modprobe when it cannot find the module', async () => {
    const runner = fakeRunner((cmd) =>
      cmd === 'modprobe'
        ? { code: 1, stdout: '', stderr: 'modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.18.44-test\n' }
        : { code: 0, stdout: '', stderr: '' },
    );
    const support = await checkIpvsSupport({ runner, readFile: noFile, kernelRelease: '6.18.44-test' });
    expect(support.ok).toBe(false);
    expect(!support.ok && support.reason).toContain('modprobe -n ip_vs: modprobe: FATAL: Module ip_vs not found');
  });

  it('is satisfied by /proc/net/ip_vs and ipvsadm', async () => {
    const runner = fakeRunner(() => ({ code: 0, stdout: 'ipvsadm v1.31', stderr: '' }));
    await expect(checkIpvsSupport({ runner, readFile: async () => Buffer.from('') })).resolves.toEqual({ ok: true });
  });

  it('makes Proxier.start fail with the clear message before any rule is written', async () => {
    const runner = fakeRunner(() => ({ code: 127, stdout: '', stderr: 'not found' }));
    const backend = new IpvsBackend({ runner, probe: { readFile: noFile, kernelRelease: '6.18.44-test' } });
    const proxier = new Proxier({ backend, clock: new FakeClock(0), serviceCIDR: '10.96.0.0/12', nodeIPs: [] });
    proxier.update(mapOf(web));
    proxier.setSynced();
    await expect(proxier.start()).rejects.toThrow(
      /^IPVS mode needs the ip_vs kernel module, which this kernel \(6\.18\.44-test\) does not have \(.*\); use --mode iptables or --mode nftables$/,
    );
    expect(runner.calls.filter((c) => /^(iptables|ipvsadm -R|ip )/.test(c))).toEqual([]);
  });

  it('reads ipvsadm -Sn back into virtual servers', () => {
    const text = [
      '-A -t 10.96.0.10:80 -s rr',
      '-a -t 10.96.0.10:80 -r 10.88.0.2:8080 -m -w 1',
      '-A -u 10.96.0.53:53 -s rr -p 10800',
      '-a -u 10.96.0.53:53 -r 10.88.0.7:53 -m -w 2',
    ].join('\n');
    expect(parseIpvsadmSave(text)).toEqual([
      { address: '10.96.0.10', port: 80, protocol: 'TCP', scheduler: 'rr', realServers: [{ address: '10.88.0.2', port: 8080, weight: 1 }] },
      {
        address: '10.96.0.53',
        port: 53,
        protocol: 'UDP',
        scheduler: 'rr',
        persistenceSeconds: 10800,
        realServers: [{ address: '10.88.0.7', port: 53, weight: 2 }],
      },
    ]);
  });
});
