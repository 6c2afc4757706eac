import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { buildIptablesRules, iptablesJumpRules, iptablesProbability, KUBE_PROXY_CANARY } from '../../../../agent/network/proxy/iptables-rules.js';
import { endpointChain, serviceClusterChain, serviceExternalChain, serviceLocalChain } from '../../../../agent/network/proxy/chain-names.js';
import { serviceKey, type ServicePortInfo } from '../../../../agent/network/proxy/service-model.js';
import { endpoint, largeState, proxyState, servicePort } from './proxy-fixtures.js';

const lines = (text: string) => text.split('\n');
const rulesOf = (text: string, chain: string) => lines(text).filter((l) => l.startsWith(`-A ${chain} `));
const declared = (text: string) =>
  lines(text)
    .filter((l) => l.startsWith(':'))
    .map((l) => l.slice(1).split(' ')[0]);

/** Chains used (as `-A` or `-j` target) that would not exist after the restore. */
function danglingChains(text: string, existingBefore: Set<string> = new Set()): string[] {
  const exists = new Set([...existingBefore, ...declared(text)]);
  for (const l of lines(text)) if (l.startsWith('-X ')) exists.delete(l.slice(3));
  const used = new Set<string>();
  for (const l of lines(text)) {
    const m = /^-A (\S+) .*?(?:-j (KUBE-\S+))?$/.exec(l);
    if (m) for (const c of [m[1], m[2]]) if (c) used.add(c);
  }
  return [...used].filter((c) => !exists.has(c));
}

const web = servicePort('default', 'web', {
  portName: 'http',
  endpoints: [endpoint('10.244.0.5'), endpoint('10.244.0.6'), endpoint('10.244.1.7'), endpoint('10.244.1.8')],
});
const svcWeb = serviceClusterChain(web.name);

describe('iptables layout', () => {
  it('writes kube-proxy fixed chains: postrouting masquerade, the 0x4000 mark, NodePorts last', () => {
    const { nat, filter } = buildIptablesRules(proxyState([web]));
    expect(nat.startsWith('*nat\n')).toBe(true);
    expect(nat.endsWith('COMMIT\n')).toBe(true);
    expect(declared(nat).slice(0, 4)).toEqual(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
    expect(rulesOf(nat, 'KUBE-POSTROUTING')).toEqual([
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ]);
    expect(rulesOf(nat, 'KUBE-MARK-MASQ')).toEqual(['-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000']);
    const services = rulesOf(nat, 'KUBE-SERVICES');
    expect(services.at(-1)).toBe(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
    );
    expect(declared(filter)).toEqual(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', KUBE_PROXY_CANARY]);
    expect(rulesOf(filter, 'KUBE-FORWARD')[0]).toContain('-m mark --mark 0x4000/0x4000 -j ACCEPT');
  });

  it('sends NodePorts only to the node addresses given', () => {
    const { nat } = buildIptablesRules(proxyState([web], { nodeIPs: ['192.168.1.10', '192.168.1.11'] }));
    expect(rulesOf(nat, 'KUBE-SERVICES').slice(-2)).toEqual([
      '-A KUBE-SERVICES -d 192.168.1.10/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-SERVICES -d 192.168.1.11/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
    ]);
  });

  it('leaves the jumps from built-in chains to the applier', () => {
    const { nat, filter } = buildIptablesRules(proxyState([web]));
    for (const builtin of ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD']) {
      expect(nat + filter).not.toMatch(new RegExp(`^(:|-A )${builtin} `, 'm'));
    }
    const jumps = iptablesJumpRules();
    expect(jumps).toContainEqual({
      table: 'nat',
      chain: 'PREROUTING',
      rule: ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'],
    });
    expect(jumps).toContainEqual({
      table: 'nat',
      chain: 'POSTROUTING',
      rule: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', 'KUBE-POSTROUTING'],
    });
    expect(jumps.filter((j) => j.table === 'filter').map((j) => `${j.chain}>${j.rule.at(-1)}`)).toEqual([
      'INPUT>KUBE-EXTERNAL-SERVICES',
      'FORWARD>KUBE-EXTERNAL-SERVICES',
      'INPUT>KUBE-NODEPORTS',
      'FORWARD>KUBE-SERVICES',
      'OUTPUT>KUBE-SERVICES',
      'FORWARD>KUBE-FORWARD',
    ]);
  });
});

describe('Service rules', () => {
  it('spreads over N endpoints with probabilities 1/(N-i) printed like kube-proxy', () => {
    const { nat } = buildIptablesRules(proxyState([web]));
    const spread = rulesOf(nat, svcWeb).filter((l) => !l.includes('KUBE-MARK-MASQ'));
    const seps = ['10.244.0.5', '10.244.0.6', '10.244.1.7', '10.244.1.8'].map((ip) => endpointChain(web.name, ip, 8080));
    expect(spread).toEqual([
      `-A ${svcWeb} -m comment --comment "default/web:http -> 10.244.0.5:8080" -m statistic --mode random --probability 0.2500000000 -j ${seps[0]}`,
      `-A ${svcWeb} -m comment --comment "default/web:http -> 10.244.0.6:8080" -m statistic --mode random --probability 0.3333333333 -j ${seps[1]}`,
      `-A ${svcWeb} -m comment --comment "default/web:http -> 10.244.1.7:8080" -m statistic --mode random --probability 0.5000000000 -j ${seps[2]}`,
      `-A ${svcWeb} -m comment --comment "default/web:http -> 10.244.1.8:8080" -j ${seps[3]}`,
    ]);
    expect(rulesOf(nat, seps[0]!)).toEqual([
      `-A ${seps[0]} -s 10.244.0.5/32 -m comment --comment default/web:http -j KUBE-MARK-MASQ`,
      `-A ${seps[0]} -p tcp -m comment --comment default/web:http -m tcp -j DNAT --to-destination 10.244.0.5:8080`,
    ]);
  });

  it('formats probabilities as Go "%0.10f", halves rounded to even', () => {
    expect(iptablesProbability(3)).toBe('0.3333333333');
    expect(iptablesProbability(7)).toBe('0.1428571429');
    expect(iptablesProbability(2048)).toBe('0.0004882812');
    expect(iptablesProbability(4096)).toBe('0.0002441406');
  });

  it('dispatches the ClusterIP and masquerades off-cluster sources only', () => {
    const { nat } = buildIptablesRules(proxyState([web]));
    expect(rulesOf(nat, 'KUBE-SERVICES')[0]).toBe(
      `-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j ${svcWeb}`,
    );
    expect(rulesOf(nat, svcWeb)[0]).toBe(
      `-A ${svcWeb} -d 10.96.0.10/32 ! -s 10.244.0.0/16 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
    );
    const noCIDR = buildIptablesRules(proxyState([web], { clusterCIDR: undefined })).nat;
    expect(rulesOf(noCIDR, svcWeb)[0]).toBe(
      `-A ${svcWeb} -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
    );
  });

  it('sticks ClientIP affinity with recent --rcheck in the Service chain and --set in the endpoint chain', () => {
    const sticky = { ...web, stickySeconds: 10800 };
    const { nat } = buildIptablesRules(proxyState([sticky]));
    const sep0 = endpointChain(web.name, '10.244.0.5', 8080);
    const svcRules = rulesOf(nat, svcWeb);
    expect(svcRules[1]).toBe(
      `-A ${svcWeb} -m comment --comment "default/web:http -> 10.244.0.5:8080" -m recent --name ${sep0} --rcheck --seconds 10800 --reap -j ${sep0}`,
    );
    expect(svcRules.filter((l) => l.includes('--rcheck'))).toHaveLength(4);
    expect(svcRules.findIndex((l) => l.includes('statistic'))).toBeGreaterThan(svcRules.findLastIndex((l) => l.includes('--rcheck')));
    expect(rulesOf(nat, sep0)[1]).toBe(
      `-A ${sep0} -p tcp -m comment --comment default/web:http -m recent --name ${sep0} --set -m tcp -j DNAT --to-destination 10.244.0.5:8080`,
    );
  });

  it('sends a Cluster-policy NodePort through KUBE-EXT, marked for masquerade', () => {
    const np = { ...web, nodePort: 30080 };
    const { nat } = buildIptablesRules(proxyState([np]));
    const ext = serviceExternalChain(web.name);
    expect(rulesOf(nat, 'KUBE-NODEPORTS')).toEqual([`-A KUBE-NODEPORTS -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j ${ext}`]);
    expect(rulesOf(nat, ext)).toEqual([
      `-A ${ext} -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ`,
      `-A ${ext} -j ${svcWeb}`,
    ]);
  });

  it('keeps external traffic on local endpoints for Local policy, short-circuiting pods and the node', () => {
    const local = {
      ...web,
      nodePort: 30080,
      externalIPs: ['192.0.2.10'],
      externalTrafficLocal: true,
      endpoints: [endpoint('10.244.0.5', 8080, { isLocal: true }), endpoint('10.244.1.7')],
    };
    const { nat } = buildIptablesRules(proxyState([local]));
    const ext = serviceExternalChain(web.name);
    const svl = serviceLocalChain(web.name);
    expect(rulesOf(nat, 'KUBE-SERVICES')[1]).toBe(
      `-A KUBE-SERVICES -d 192.0.2.10/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j ${ext}`,
    );
    expect(rulesOf(nat, ext).map((l) => l.split(' -j ')[1])).toEqual([svcWeb, 'KUBE-MARK-MASQ', svcWeb, svl]);
    expect(rulesOf(nat, ext)[0]).toContain('-s 10.244.0.0/16');
    expect(rulesOf(nat, svl)).toEqual([
      `-A ${svl} -m comment --comment "default/web:http -> 10.244.0.5:8080" -j ${endpointChain(web.name, '10.244.0.5', 8080)}`,
    ]);
    expect(rulesOf(nat, svcWeb).filter((l) => l.includes('KUBE-SEP-'))).toHaveLength(2);
  });

  it('drops external traffic for Local policy without a local endpoint, still serving the ClusterIP', () => {
    const remote = { ...web, nodePort: 30080, externalTrafficLocal: true, endpoints: [endpoint('10.244.1.7')] };
    const { nat, filter } = buildIptablesRules(proxyState([remote]));
    expect(rulesOf(nat, 'KUBE-SERVICES')[0]).toContain(`-j ${svcWeb}`);
    expect(rulesOf(filter, 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j DROP',
    ]);
    expect(declared(nat)).not.toContain(serviceLocalChain(web.name));
  });

  it('routes ClusterIP traffic to KUBE-SVL for internalTrafficPolicy Local', () => {
    const local = { ...web, internalTrafficLocal: true, endpoints: [endpoint('10.244.0.5', 8080, { isLocal: true }), endpoint('10.244.1.7')] };
    const { nat } = buildIptablesRules(proxyState([local]));
    const svl = serviceLocalChain(web.name);
    expect(rulesOf(nat, 'KUBE-SERVICES')[0]).toContain(`-j ${svl}`);
    expect(declared(nat)).not.toContain(svcWeb);
    expect(declared(nat)).not.toContain(endpointChain(web.name, '10.244.1.7', 8080));
  });

  it('rejects a Service without endpoints in the filter table and writes no nat chain for it', () => {
    const none = servicePort('default', 'none', { clusterIP: '10.96.0.12', nodePort: 30082, protocol: 'UDP', externalIPs: ['192.0.2.12'] });
    const { nat, filter } = buildIptablesRules(proxyState([none]));
    expect(rulesOf(filter, 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -d 10.96.0.12/32 -p udp -m comment --comment "default/none has no endpoints" -m udp --dport 80 -j REJECT',
    ]);
    expect(rulesOf(filter, 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -d 192.0.2.12/32 -p udp -m comment --comment "default/none has no endpoints" -m udp --dport 80 -j REJECT',
      '-A KUBE-EXTERNAL-SERVICES -p udp -m comment --comment "default/none has no endpoints" -m addrtype --dst-type LOCAL -m udp --dport 30082 -j REJECT',
    ]);
    expect(nat).not.toContain('default/none');
  });

  it('never programs a loopback endpoint, and skips a malformed Service without disturbing the others', () => {
    const loop = servicePort('default', 'loop', { clusterIP: '10.96.0.13', endpoints: [endpoint('127.0.0.1')] });
    const bad = servicePort('default', 'bad', { clusterIP: '10.96.0.300' });
    const headless = servicePort('default', 'headless', { clusterIP: 'None' });
    const r = buildIptablesRules(proxyState([web, loop, bad, headless]));
    expect(r.nat).not.toContain('127.0.0.1');
    expect(r.filter).toContain('"default/loop has no endpoints"');
    expect(r.skipped).toEqual([serviceKey(bad)]);
    expect(rulesOf(r.nat, svcWeb)).toHaveLength(5);
  });

  it('is the same text whatever order the Services and endpoints arrive in', () => {
    const other = servicePort('ns2', 'api', { clusterIP: '10.96.0.20', endpoints: [endpoint('10.244.2.1'), endpoint('10.244.2.2')] });
    const shuffled = { ...web, endpoints: [...web.endpoints].reverse() };
    const a = buildIptablesRules(proxyState([web, other]));
    const b = buildIptablesRules(proxyState([other, shuffled]));
    expect(b.nat).toBe(a.nat);
    expect(b.filter).toBe(a.filter);
  });

  it('leaves per-endpoint comments out in large-cluster mode, as kube-proxy', () => {
    const big = largeState(300, 5);
    const { nat } = buildIptablesRules(big);
    const first = [...big.services.values()][0]!;
    expect(rulesOf(nat, serviceClusterChain(first.name)).at(-1)).toMatch(/^-A KUBE-SVC-\S+ -j KUBE-SEP-\S+$/);
    expect(rulesOf(nat, 'KUBE-SERVICES')[0]).toContain('cluster IP"');
  });
});

describe('partial sync', () => {
  const api = servicePort('ns2', 'api', { clusterIP: '10.96.0.20', endpoints: [endpoint('10.244.2.1'), endpoint('10.244.2.2')] });
  const first = buildIptablesRules(proxyState([web, api]));

  it('rewrites only the changed Service chains but all of KUBE-SERVICES, and deletes stale chains', () => {
    const apiShrunk: ServicePortInfo = { ...api, endpoints: [endpoint('10.244.2.1')] };
    const r = buildIptablesRules(proxyState([web, apiShrunk]), { changed: new Set([serviceKey(api)]), previousChains: first.chains });
    const gone = endpointChain(api.name, '10.244.2.2', 8080);
    const kept = endpointChain(api.name, '10.244.2.1', 8080);
    // Declaring an unchanged chain would flush it: web's chains must not be named.
    expect(declared(r.nat)).toEqual(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', serviceClusterChain(api.name), kept, gone]);
    expect(r.nat).not.toContain(`-A ${svcWeb} `);
    expect(rulesOf(r.nat, 'KUBE-SERVICES')).toHaveLength(3);
    expect(lines(r.nat).slice(-3)).toEqual([`-X ${gone}`, 'COMMIT', '']);
    expect(r.chains.has(svcWeb)).toBe(true);
    expect(r.chains.has(gone)).toBe(false);
    expect(r.nat).not.toContain(KUBE_PROXY_CANARY);
    expect(r.full).toBe(false);
  });

  it('deletes every chain of a removed Service and rewrites a Service whose chains are missing', () => {
    const added = servicePort('ns3', 'new', { clusterIP: '10.96.0.30', endpoints: [endpoint('10.244.3.1')] });
    const r = buildIptablesRules(proxyState([web, added]), { changed: new Set(), previousChains: first.chains });
    expect(declared(r.nat)).toContain(serviceClusterChain(added.name));
    expect(rulesOf(r.nat, serviceClusterChain(added.name))).toHaveLength(2);
    const deleted = lines(r.nat)
      .filter((l) => l.startsWith('-X '))
      .map((l) => l.slice(3));
    expect(deleted.sort()).toEqual(
      [serviceClusterChain(api.name), endpointChain(api.name, '10.244.2.1', 8080), endpointChain(api.name, '10.244.2.2', 8080)].sort(),
    );
  });

  it('never deletes chains that are not per-Service chains', () => {
    const r = buildIptablesRules(proxyState([web]), { previousChains: new Set([...first.chains, 'DOCKER', 'KUBE-SERVICES']) });
    const deleted = lines(r.nat)
      .filter((l) => l.startsWith('-X '))
      .map((l) => l.slice(3));
    expect(deleted.every((c) => c.startsWith('KUBE-SVC-') || c.startsWith('KUBE-SEP-'))).toBe(true);
    expect(deleted).toHaveLength(3);
  });
});

describe('at scale', () => {
  it('writes 10,000 Services with 5 endpoints each, every chain name distinct', () => {
    const state = largeState(10_000, 5);
    const r = buildIptablesRules(state);
    // 4 fixed + 10,000 SVC + 50,000 SEP; a hash collision would merge two.
    expect(r.chains.size).toBe(4 + 10_000 + 50_000);
    // Per Service: 1 dispatch + 1 masquerade + 5 spread + 2 per endpoint.
    expect(r.ruleCount).toBe(10_000 * 17 + 4 + 1 + 1 + 2 + 1);
  });
});

describe('iptables-restore --test', () => {
  it('accepts the full and a partial ruleset with the nat and filter tables', () => {
    const states = proxyState([
      { ...web, stickySeconds: 10800, nodePort: 30080 },
      servicePort('default', 'loc', {
        clusterIP: '10.96.0.11',
        endpoints: [endpoint('10.244.0.5'), endpoint('10.244.0.7', 8080, { isLocal: true })],
        nodePort: 30081,
        externalTrafficLocal: true,
        externalIPs: ['192.0.2.10'],
        loadBalancerIPs: ['198.51.100.7'],
      }),
      servicePort('default', 'intl', { clusterIP: '10.96.0.14', internalTrafficLocal: true, endpoints: [endpoint('10.244.1.9')] }),
      servicePort('default', 'none', { clusterIP: '10.96.0.12', nodePort: 30082, protocol: 'UDP' }),
      servicePort('default', 'sctp', { clusterIP: '10.96.0.15', protocol: 'SCTP', endpoints: [endpoint('10.244.0.9', 9000)] }),
    ]);
    const full = buildIptablesRules(states);
    const partial = buildIptablesRules(states, { changed: new Set([serviceKey(web)]), previousChains: new Set([...full.chains, 'KUBE-SEP-AAAAAAAAAAAAAAAA']) });
    for (const r of [full, partial]) {
      // --test parses every rule and checks its options without committing; it does not
      // check that jump targets exist (iptables-nft 1.8.9), hence danglingChains.
      expect(() => execFileSync('iptables-restore', ['--test', '--noflush'], { input: r.nat + r.filter, stdio: ['pipe', 'pipe', 'pipe'] })).not.toThrow();
    }
    expect(danglingChains(full.nat)).toEqual([]);
    expect(danglingChains(full.filter)).toEqual([]);
    expect(danglingChains(partial.nat, full.chains)).toEqual([]);
    expect(partial.nat).toContain('-X KUBE-SEP-AAAAAAAAAAAAAAAA');
  });

  it('refuses what iptables would refuse (the check is not vacuous)', () => {
    const bad = '*nat\n:KUBE-X - [0:0]\n-A KUBE-X -m statistic --mode random --probability 1/3 -j RETURN\nCOMMIT\n';
    expect(() => execFileSync('iptables-restore', ['--test', '--noflush'], { input: bad, stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
    expect(danglingChains('*nat\n:KUBE-X - [0:0]\n-A KUBE-X -j KUBE-SVC-MISSING\nCOMMIT\n')).toEqual(['KUBE-SVC-MISSING']);
  });
});
