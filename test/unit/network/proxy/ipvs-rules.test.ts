import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { buildIpvsState, ipvsadmRestoreScript, ipvsIptablesJumpRules, type IpvsVirtualServer } from '../../../../agent/network/proxy/ipvs-rules.js';
import { endpoint, proxyState, servicePort } from './proxy-fixtures.js';

const web = servicePort('default', 'web', {
  portName: 'http',
  endpoints: [endpoint('10.244.0.6'), endpoint('10.244.0.5'), endpoint('10.244.1.7', 8080, { ready: false })],
});

describe('buildIpvsState', () => {
  it('makes a round-robin virtual server per ClusterIP with the chosen endpoints as real servers', () => {
    const { virtualServers, dummyAddresses } = buildIpvsState(proxyState([web]));
    expect(virtualServers).toEqual([
      {
        address: '10.96.0.10',
        port: 80,
        protocol: 'TCP',
        scheduler: 'rr',
        realServers: [
          { address: '10.244.0.5', port: 8080, weight: 1 },
          { address: '10.244.0.6', port: 8080, weight: 1 },
        ],
      },
    ]);
    expect(dummyAddresses).toEqual(['10.96.0.10']);
  });

  it('uses persistence for ClientIP affinity and serves NodePorts and external IPs', () => {
    const svc = { ...web, stickySeconds: 10800, nodePort: 30080, externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'] };
    const { virtualServers, dummyAddresses } = buildIpvsState(proxyState([svc], { nodeIPs: ['192.168.1.10', '192.168.1.11'] }));
    expect(virtualServers.map((vs) => `${vs.address}:${vs.port}/${vs.persistenceSeconds}`)).toEqual([
      '10.96.0.10:80/10800',
      '192.0.2.10:80/10800',
      '198.51.100.7:80/10800',
      '192.168.1.10:30080/10800',
      '192.168.1.11:30080/10800',
    ]);
    expect(dummyAddresses).toEqual(['10.96.0.10', '192.0.2.10', '198.51.100.7']);
  });

  it('gives Local policy traffic only local real servers and keeps a Service without endpoints', () => {
    const local = { ...web, nodePort: 30080, externalTrafficLocal: true, endpoints: [endpoint('10.244.0.5', 8080, { isLocal: true }), endpoint('10.244.1.7')] };
    const none = servicePort('default', 'none', { clusterIP: '10.96.0.12', protocol: 'UDP' });
    const { virtualServers } = buildIpvsState(proxyState([local, none], { nodeIPs: ['192.168.1.10'] }));
    const byAddress = new Map(virtualServers.map((vs) => [`${vs.address}:${vs.port}`, vs.realServers.map((rs) => rs.address)]));
    expect(byAddress.get('10.96.0.10:80')).toEqual(['10.244.0.5', '10.244.1.7']);
    expect(byAddress.get('192.168.1.10:30080')).toEqual(['10.244.0.5']);
    // IPVS answers a virtual server without real servers with ICMP port-unreachable.
    expect(byAddress.get('10.96.0.12:80')).toEqual([]);
  });

  it('writes only the masquerade rules IPVS needs, as plain rules', () => {
    const svc = { ...web, nodePort: 30080 };
    const { iptablesRestore } = buildIpvsState(proxyState([svc]));
    const rules = iptablesRestore.split('\n').filter((l) => l.startsWith('-A '));
    expect(rules).toContain(
      '-A KUBE-SERVICES -d 10.96.0.10/32 ! -s 10.244.0.0/16 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
    );
    expect(rules).toContain('-A KUBE-NODE-PORT -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j KUBE-MARK-MASQ');
    expect(rules).toContain(
      '-A KUBE-POSTROUTING -s 10.244.0.5/32 -d 10.244.0.5/32 -p tcp -m comment --comment "default/web:http hairpin" -m tcp --dport 8080 -j MASQUERADE',
    );
    expect(rules.filter((l) => l.startsWith('-A KUBE-POSTROUTING')).at(-1)).toContain('-j MASQUERADE --random-fully');
    expect(iptablesRestore).not.toContain('match-set');
    expect(() => execFileSync('iptables-restore', ['--test', '--noflush'], { input: iptablesRestore, stdio: ['pipe', 'pipe', 'pipe'] })).not.toThrow();
    expect(ipvsIptablesJumpRules().map((j) => `${j.table} ${j.chain}>${j.rule.at(-1)}`)).toEqual([
      'nat PREROUTING>KUBE-SERVICES',
      'nat OUTPUT>KUBE-SERVICES',
      'nat POSTROUTING>KUBE-POSTROUTING',
      'filter FORWARD>KUBE-FORWARD',
    ]);
  });

  it('does not masquerade Local-policy NodePorts (the client address is kept)', () => {
    const local = { ...web, nodePort: 30080, externalTrafficLocal: true };
    expect(buildIpvsState(proxyState([local])).iptablesRestore).not.toContain('KUBE-NODE-PORT -p');
  });
});

describe('ipvsadmRestoreScript', () => {
  const vs = (address: string, rs: string[], extra: Partial<IpvsVirtualServer> = {}): IpvsVirtualServer => ({
    address,
    port: 80,
    protocol: 'TCP',
    scheduler: 'rr',
    realServers: rs.map((a) => ({ address: a, port: 8080, weight: 1 })),
    ...extra,
  });

  it('adds new virtual servers with their real servers', () => {
    expect(ipvsadmRestoreScript([], [vs('10.96.0.10', ['10.244.0.5']), vs('10.96.0.11', [], { protocol: 'UDP', port: 53, persistenceSeconds: 60 })])).toBe(
      '-A -t 10.96.0.10:80 -s rr\n-A -u 10.96.0.11:53 -s rr -p 60\n-a -t 10.96.0.10:80 -r 10.244.0.5:8080 -m -w 1\n',
    );
  });

  it('removes real and virtual servers before adding, and edits changed persistence', () => {
    const current = [vs('10.96.0.10', ['10.244.0.5', '10.244.0.6']), vs('10.96.0.11', ['10.244.0.7'])];
    const desired = [vs('10.96.0.10', ['10.244.0.6', '10.244.0.8'], { persistenceSeconds: 10800 })];
    expect(ipvsadmRestoreScript(current, desired).split('\n')).toEqual([
      '-d -t 10.96.0.10:80 -r 10.244.0.5:8080',
      '-D -t 10.96.0.11:80',
      '-E -t 10.96.0.10:80 -s rr -p 10800',
      '-a -t 10.96.0.10:80 -r 10.244.0.8:8080 -m -w 1',
      '',
    ]);
  });

  it('re-weights with -e and is empty when nothing differs', () => {
    const current = [vs('10.96.0.10', ['10.244.0.5'])];
    const reweighted = [{ ...vs('10.96.0.10', []), realServers: [{ address: '10.244.0.5', port: 8080, weight: 0 }] }];
    expect(ipvsadmRestoreScript(current, reweighted)).toBe('-e -t 10.96.0.10:80 -r 10.244.0.5:8080 -m -w 0\n');
    expect(ipvsadmRestoreScript(current, [vs('10.96.0.10', ['10.244.0.5'])])).toBe('');
    expect(ipvsadmRestoreScript([vs('10.96.0.10', [], { protocol: 'SCTP' })], [])).toBe('-D --sctp-service 10.96.0.10:80\n');
  });
});
