import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { buildNftablesRuleset, nftablesCleanupScript } from '../../../../agent/network/proxy/nftables-rules.js';
import { nftEndpointChainBase as nftEndpointBase, nftServiceChainBase } from '../../../../agent/network/proxy/chain-names.js';
import { serviceKey, type ServicePortInfo } from '../../../../agent/network/proxy/service-model.js';
import { endpoint, proxyState, servicePort } from './proxy-fixtures.js';

const T = 'ip nodelet';
const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const rulesOf = (script: string, chain: string) =>
  lines(script)
    .filter((l) => l.startsWith(`add rule ${T} ${chain} `))
    .map((l) => l.slice(`add rule ${T} ${chain} `.length));
const elementsOf = (script: string, verb: 'add' | 'delete', map: string) =>
  lines(script)
    .filter((l) => l.startsWith(`${verb} element ${T} ${map} { `))
    .flatMap((l) => l.slice(`${verb} element ${T} ${map} { `.length, -2).split(', '));

const web = servicePort('default', 'web', {
  portName: 'http',
  endpoints: [endpoint('10.244.0.5'), endpoint('10.244.0.6'), endpoint('10.244.1.7')],
});
const svcChain = `service-${nftServiceChainBase(web.name)}`;
const affinitySet = (svc: ServicePortInfo, ip: string, port = 8080) => `affinity-${nftEndpointBase(svc.name, ip, port)}`;
const MASQ = 'meta mark set meta mark or 0x4000';

/** `nft -c`: the kernel evaluates the whole batch as one transaction and commits nothing. */
function nftCheck(script: string): void {
  execFileSync('nft', ['-c', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('full sync', () => {
  it('creates its own table afresh with base chains and the dispatch maps', () => {
    const { script, full } = buildNftablesRuleset(proxyState([web]));
    expect(full).toBe(true);
    expect(lines(script).slice(0, 3)).toEqual([`add table ${T}`, `delete table ${T}`, `add table ${T} { comment "nodelet Service proxy" ; }`]);
    expect(script).toContain(`add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; policy accept ; }`);
    expect(script).toContain(`add chain ${T} filter-forward { type filter hook forward priority -110 ; policy accept ; }`);
    expect(script).toContain(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ;`);
    expect(rulesOf(script, 'services')).toEqual([
      `ip daddr 10.96.0.0/12 ip saddr != 10.244.0.0/16 ${MASQ}`,
      'ip daddr . meta l4proto . th dport vmap @service-ips',
      'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports',
    ]);
    expect(rulesOf(script, 'masquerading')).toEqual(['mark and 0x4000 == 0 return', 'mark set mark xor 0x4000', 'masquerade fully-random']);
    expect(rulesOf(script, 'service-endpoints-check')).toEqual(['ip daddr . meta l4proto . th dport vmap @no-endpoint-services']);
  });

  it('dispatches a ClusterIP through the service-ips map to one numgen rule per endpoint, with no endpoint chains or anonymous sets', () => {
    const { script, state } = buildNftablesRuleset(proxyState([web]));
    expect(elementsOf(script, 'add', 'service-ips')).toEqual([`10.96.0.10 . tcp . 80 : goto ${svcChain}`]);
    // The i-th of N is taken with probability 1/(N-i): 1/3, then 1/2 of the rest, then all.
    expect(rulesOf(script, svcChain)).toEqual([
      'numgen random mod 3 0 meta l4proto tcp dnat to 10.244.0.5:8080',
      'numgen random mod 2 0 meta l4proto tcp dnat to 10.244.0.6:8080',
      'meta l4proto tcp dnat to 10.244.1.7:8080',
    ]);
    expect(state.services.get(serviceKey(web))?.chains).toEqual([svcChain]);
    expect(script).not.toMatch(/vmap \{|chain ip nodelet endpoint-/);
  });

  it('masquerades a local endpoint that the draw sends back to itself (hairpin), drawing it once', () => {
    const local = { ...web, endpoints: [endpoint('10.244.0.5', 8080, { isLocal: true }), endpoint('10.244.1.7')] };
    const { script } = buildNftablesRuleset(proxyState([local]));
    expect(rulesOf(script, svcChain)).toEqual([
      `ip saddr 10.244.0.5 numgen random mod 2 0 meta l4proto tcp ${MASQ} dnat to 10.244.0.5:8080`,
      'ip saddr != 10.244.0.5 numgen random mod 2 0 meta l4proto tcp dnat to 10.244.0.5:8080',
      'meta l4proto tcp dnat to 10.244.1.7:8080',
    ]);
  });

  it('keeps ClientIP affinity in per-endpoint sets with a timeout', () => {
    const { script, state } = buildNftablesRuleset(proxyState([{ ...web, stickySeconds: 600 }]));
    const set = affinitySet(web, '10.244.0.5');
    expect(script).toContain(`add set ${T} ${set} { type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }`);
    const rules = rulesOf(script, svcChain);
    expect(rules[0]).toBe(`ip saddr @${set} meta l4proto tcp update @${set} { ip saddr } dnat to 10.244.0.5:8080`);
    expect(rules[3]).toBe(`numgen random mod 3 0 meta l4proto tcp update @${set} { ip saddr } dnat to 10.244.0.5:8080`);
    expect(rules).toHaveLength(6);
    expect(state.services.get(serviceKey(web))?.affinitySets.get(set)).toBe(600);
  });

  it('sends NodePorts through the service-nodeports map to an external chain', () => {
    const np = { ...web, nodePort: 30080 };
    const { script } = buildNftablesRuleset(proxyState([np]));
    const ext = `external-${nftServiceChainBase(web.name)}`;
    expect(elementsOf(script, 'add', 'service-nodeports')).toEqual([`tcp . 30080 : goto ${ext}`]);
    expect(rulesOf(script, ext)).toEqual([MASQ, `goto ${svcChain}`]);
  });

  it('sends Local-policy external traffic to local endpoints only, and drops it when there are none', () => {
    const local = { ...web, nodePort: 30080, externalTrafficLocal: true, endpoints: [endpoint('10.244.0.5', 8080, { isLocal: true }), endpoint('10.244.1.7')] };
    const { script } = buildNftablesRuleset(proxyState([local]));
    const ext = `external-${nftServiceChainBase(web.name)}`;
    const loc = `local-${nftServiceChainBase(web.name)}`;
    expect(rulesOf(script, ext)).toEqual([
      `ip saddr 10.244.0.0/16 goto ${svcChain} comment "short-circuit pod traffic"`,
      `fib saddr type local ${MASQ} comment "masquerade local traffic"`,
      `fib saddr type local goto ${svcChain} comment "short-circuit local traffic"`,
      `goto ${loc}`,
    ]);
    expect(rulesOf(script, loc)).toEqual([
      `ip saddr 10.244.0.5 meta l4proto tcp ${MASQ} dnat to 10.244.0.5:8080`,
      'ip saddr != 10.244.0.5 meta l4proto tcp dnat to 10.244.0.5:8080',
    ]);

    const remote = { ...local, endpoints: [endpoint('10.244.1.7')] };
    const none = buildNftablesRuleset(proxyState([remote])).script;
    expect(elementsOf(none, 'add', 'no-endpoint-nodeports')).toEqual(['tcp . 30080 : drop']);
    expect(elementsOf(none, 'add', 'service-ips')).toEqual([`10.96.0.10 . tcp . 80 : goto ${svcChain}`]);
  });

  it('rejects Services without endpoints through the no-endpoint maps', () => {
    const none = servicePort('default', 'none', { clusterIP: '10.96.0.12', nodePort: 30082, protocol: 'UDP', loadBalancerIPs: ['198.51.100.7'] });
    const { script, state } = buildNftablesRuleset(proxyState([none]));
    expect(elementsOf(script, 'add', 'no-endpoint-services')).toEqual([
      '10.96.0.12 . udp . 80 : goto reject-chain',
      '198.51.100.7 . udp . 80 : goto reject-chain',
    ]);
    expect(elementsOf(script, 'add', 'no-endpoint-nodeports')).toEqual(['udp . 30082 : goto reject-chain']);
    expect(rulesOf(script, 'reject-chain')).toEqual(['reject']);
    expect(state.services.get(serviceKey(none))?.chains).toEqual([]);
  });

  it('from a previous state flushes the table and maps instead of deleting it, keeping affinity sets', () => {
    const sticky = { ...web, stickySeconds: 600 };
    const first = buildNftablesRuleset(proxyState([sticky]));
    const again = buildNftablesRuleset(proxyState([sticky]), { previous: first.state });
    expect(again.script).not.toContain('delete table');
    expect(lines(again.script)).toContain(`flush table ${T}`);
    expect(lines(again.script)).toContain(`flush map ${T} service-ips`);
    expect(again.script).not.toContain('delete set');
    const shorter = buildNftablesRuleset(proxyState([{ ...sticky, stickySeconds: 60, endpoints: sticky.endpoints.slice(0, 2) }]), { previous: first.state });
    expect(lines(shorter.script).filter((l) => l.startsWith('delete set'))).toHaveLength(3);
    expect(shorter.state.staleChains.size).toBe(0);
  });

  it('is a full sync when the node addresses changed, even if asked for a partial one', () => {
    const first = buildNftablesRuleset(proxyState([web]));
    const r = buildNftablesRuleset(proxyState([web], { nodeIPs: ['192.168.1.10'] }), { previous: first.state, changed: new Set() });
    expect(r.full).toBe(true);
    expect(rulesOf(r.script, 'services')[2]).toBe('ip daddr { 192.168.1.10 } meta l4proto . th dport vmap @service-nodeports');
  });
});

describe('partial sync', () => {
  const api = servicePort('ns2', 'api', { clusterIP: '10.96.0.20', nodePort: 30090, endpoints: [endpoint('10.244.2.1'), endpoint('10.244.2.2')] });
  const first = buildNftablesRuleset(proxyState([web, api]));

  it('touches only the changed Service: its chains, elements and nothing table-wide', () => {
    const apiNone = { ...api, endpoints: [] };
    const r = buildNftablesRuleset(proxyState([web, apiNone]), { previous: first.state, changed: new Set([serviceKey(api)]) });
    expect(r.full).toBe(false);
    expect(r.script).not.toMatch(/flush table|delete table|list /);
    expect(r.script).not.toContain('default/web');
    const apiSvc = `service-${nftServiceChainBase(api.name)}`;
    const apiExt = `external-${nftServiceChainBase(api.name)}`;
    expect(elementsOf(r.script, 'delete', 'service-ips')).toEqual(['10.96.0.20 . tcp . 80']);
    expect(elementsOf(r.script, 'delete', 'service-nodeports')).toEqual(['tcp . 30090']);
    expect(elementsOf(r.script, 'add', 'no-endpoint-services')).toEqual(['10.96.0.20 . tcp . 80 : goto reject-chain']);
    expect(elementsOf(r.script, 'add', 'no-endpoint-nodeports')).toEqual(['tcp . 30090 : goto reject-chain']);
    const stale = [apiSvc, apiExt];
    expect(
      lines(r.script)
        .filter((l) => l.startsWith('flush chain'))
        .map((l) => l.split(' ').at(-1)),
    ).toEqual(stale);
    expect([...r.state.staleChains]).toEqual(stale);
    expect(r.state.services.get(serviceKey(web))).toBe(first.state.services.get(serviceKey(web)));

    // The next sync deletes the emptied chains, in its own transaction.
    const next = buildNftablesRuleset(proxyState([web, apiNone]), { previous: r.state, changed: new Set() });
    expect(next.script).toBe('');
    expect(lines(next.cleanupScript)).toEqual([`add table ${T}`, ...stale.flatMap((c) => [`add chain ${T} ${c}`, `delete chain ${T} ${c}`])]);
    expect(next.state.staleChains.size).toBe(0);
  });

  it('rewrites a changed endpoint set with element updates and chain flushes', () => {
    const moved = { ...api, endpoints: [endpoint('10.244.2.2'), endpoint('10.244.2.3')] };
    const r = buildNftablesRuleset(proxyState([web, moved]), { previous: first.state, changed: new Set([serviceKey(api)]) });
    const apiSvc = `service-${nftServiceChainBase(api.name)}`;
    expect(lines(r.script)).toContain(`flush chain ${T} ${apiSvc}`);
    expect(rulesOf(r.script, apiSvc)).toEqual(['numgen random mod 2 0 meta l4proto tcp dnat to 10.244.2.2:8080', 'meta l4proto tcp dnat to 10.244.2.3:8080']);
    expect(r.script).not.toContain('element');
    expect(r.state.staleChains.size).toBe(0);
  });

  it('adopts the new record into the previous one in place, equal to the copy it would make', () => {
    const base = buildNftablesRuleset(proxyState([web, api]));
    const moved = { ...api, endpoints: [endpoint('10.244.2.9')] };
    const added = servicePort('ns3', 'new', { clusterIP: '10.96.0.30', endpoints: [endpoint('10.244.3.1')] });
    const r = buildNftablesRuleset(proxyState([moved, added]), { previous: base.state, changed: new Set([serviceKey(api)]) });
    const copy = r.state;
    expect(base.state.services.has(serviceKey(added))).toBe(false);
    const adopted = r.adopt();
    expect(adopted.services).toBe(base.state.services);
    expect([...adopted.services.keys()].sort()).toEqual([...copy.services.keys()].sort());
    expect(adopted.services.has(serviceKey(web))).toBe(false);
    expect(adopted.services.get(serviceKey(api))).toEqual(copy.services.get(serviceKey(api)));
    expect(new Map(adopted.owners)).toEqual(new Map(copy.owners));
  });

  it('treats added and removed Services as changed even when not listed', () => {
    const added = servicePort('ns3', 'new', { clusterIP: '10.96.0.30', endpoints: [endpoint('10.244.3.1')] });
    const r = buildNftablesRuleset(proxyState([added, web]), { previous: first.state, changed: new Set() });
    expect(elementsOf(r.script, 'add', 'service-ips')).toEqual([`10.96.0.30 . tcp . 80 : goto service-${nftServiceChainBase(added.name)}`]);
    expect(elementsOf(r.script, 'delete', 'service-ips')).toEqual(['10.96.0.20 . tcp . 80']);
    expect(r.state.services.has(serviceKey(api))).toBe(false);
  });

  it('writes an address listed twice once', () => {
    const twice = { ...web, externalIPs: ['192.0.2.60', '192.0.2.60'] };
    const { script } = buildNftablesRuleset(proxyState([twice]));
    expect(elementsOf(script, 'add', 'service-ips').filter((e) => e.startsWith('192.0.2.60'))).toHaveLength(1);
  });

  it('never deletes an element another Service holds', () => {
    const a = servicePort('ns', 'a', { clusterIP: '10.96.0.41', externalIPs: ['192.0.2.50'], endpoints: [endpoint('10.244.4.1')] });
    const b = servicePort('ns', 'b', { clusterIP: '10.96.0.42', externalIPs: ['192.0.2.50'], endpoints: [endpoint('10.244.4.2')] });
    const both = buildNftablesRuleset(proxyState([a, b]));
    const extA = `external-${nftServiceChainBase(a.name)}`;
    expect(elementsOf(both.script, 'add', 'service-ips').filter((e) => e.startsWith('192.0.2.50'))).toEqual([`192.0.2.50 . tcp . 80 : goto ${extA}`]);
    const bGone = buildNftablesRuleset(proxyState([a]), { previous: both.state, changed: new Set([serviceKey(b)]) });
    expect(elementsOf(bGone.script, 'delete', 'service-ips')).toEqual(['10.96.0.42 . tcp . 80']);
    expect(bGone.state.owners.get('service-ips 192.0.2.50 . tcp . 80')).toBe(serviceKey(a));
  });
});

describe('nft -c', () => {
  it('accepts a fresh full sync followed by a partial one in the same batch', () => {
    const states = [
      { ...web, stickySeconds: 10800, nodePort: 30080 },
      servicePort('default', 'loc', {
        clusterIP: '10.96.0.11',
        endpoints: [endpoint('10.244.0.5'), endpoint('10.244.0.7', 8080, { isLocal: true })],
        nodePort: 30081,
        externalTrafficLocal: true,
        externalIPs: ['192.0.2.10'],
      }),
      servicePort('default', 'intl', { clusterIP: '10.96.0.14', internalTrafficLocal: true, endpoints: [endpoint('10.244.1.9')] }),
      servicePort('default', 'none', { clusterIP: '10.96.0.12', nodePort: 30082, protocol: 'UDP' }),
      servicePort('default', 'sctp', { clusterIP: '10.96.0.15', protocol: 'SCTP', endpoints: [endpoint('10.244.0.9', 9000)] }),
    ];
    const full = buildNftablesRuleset(proxyState(states, { nodeIPs: ['192.168.1.10'] }));
    expect(() => nftCheck(full.script)).not.toThrow();
    const changedWeb = { ...states[0]!, stickySeconds: 60, endpoints: [endpoint('10.244.0.6'), endpoint('10.244.9.9')] };
    const partial = buildNftablesRuleset(proxyState([changedWeb, ...states.slice(1, 3)], { nodeIPs: ['192.168.1.10'] }), {
      previous: full.state,
      changed: new Set([serviceKey(web)]),
    });
    expect(partial.full).toBe(false);
    expect(() => nftCheck(full.script + partial.script)).not.toThrow();
    const again = buildNftablesRuleset(proxyState(states), { previous: partial.state });
    expect(() => nftCheck(full.script + partial.script + again.script)).not.toThrow();
  });

  it('refuses what the kernel would refuse (the check is not vacuous)', () => {
    expect(() => nftCheck(`add table ${T}\nadd rule ${T} no-such-chain accept\n`)).toThrow();
  });

  it('has a cleanup that removes the table whether or not it exists', () => {
    expect(nftablesCleanupScript()).toBe(`add table ${T}\ndelete table ${T}\n`);
    expect(() => nftCheck(nftablesCleanupScript())).not.toThrow();
  });
});
