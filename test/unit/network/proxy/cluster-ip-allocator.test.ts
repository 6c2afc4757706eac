import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClusterIPAllocationError, ClusterIPAllocator } from '../../../../agent/network/proxy/cluster-ip-allocator.js';
import type { Service, ServiceSpec } from '../../../../agent/network/proxy/service-types.js';
import { isAllocatableIP, parseIPv4, parseIPv4CIDR } from '../../../../agent/network/proxy/service-validation.js';

function svc(name: string, spec: ServiceSpec = {}, namespace = 'default'): Service {
  return { metadata: { name, namespace }, spec: { ports: [{ port: 80 }], ...spec } };
}

const ipsOf = (r: { services: Service[] }) => Object.fromEntries(r.services.map((s) => [s.metadata.name, s.spec.clusterIP]));

describe('ClusterIPAllocator', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-cip-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives each Service without clusterIP a distinct address from the default 10.96.0.0/12, kept across restarts', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root });
    expect(a.serviceCIDR).toBe('10.96.0.0/12');
    const first = await a.assignAll([svc('web'), svc('api'), svc('web', {}, 'shop')]);
    const ips = first.services.map((s) => s.spec.clusterIP ?? '');
    expect(first.rejected).toEqual([]);
    expect(new Set(ips).size).toBe(3);
    const cidr = parseIPv4CIDR('10.96.0.0/12');
    for (const ip of ips) expect(cidr && isAllocatableIP(cidr, parseIPv4(ip) ?? 0)).toBe(true);
    expect(first.services[0]?.spec.clusterIPs).toEqual([ips[0]]);

    const stored = JSON.parse(await readFile(join(root, 'proxy', 'cluster-ips.json'), 'utf8')) as { clusterIPs: Record<string, string> };
    expect(stored.clusterIPs).toEqual({ 'default/api': ips[1], 'default/web': ips[0], 'shop/web': ips[2] });
    // Written through a temporary file renamed into place: nothing else is left behind.
    expect(await readdir(join(root, 'proxy'))).toEqual(['cluster-ips.json']);

    const b = await ClusterIPAllocator.open({ rootDir: root });
    const again = await b.assignAll([svc('api'), svc('web', {}, 'shop'), svc('web')]);
    expect(ipsOf(again)).toEqual({ api: ips[1], web: ips[0] });
    expect(again.services.map((s) => s.spec.clusterIP)).toEqual([ips[1], ips[2], ips[0]]);
  });

  it('never hands out the network or broadcast address, nor an address in use', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root, serviceCIDR: '10.100.0.0/29' });
    // 8 addresses: .0 and .7 reserved, 6 usable; .3 taken by an explicit clusterIP.
    const services = [svc('fixed', { clusterIP: '10.100.0.3' }), ...['a', 'b', 'c', 'd', 'e'].map((n) => svc(n))];
    const r = await a.assignAll(services);
    expect(r.rejected).toEqual([]);
    const ips = r.services.map((s) => s.spec.clusterIP).sort();
    expect(ips).toEqual(['10.100.0.1', '10.100.0.2', '10.100.0.3', '10.100.0.4', '10.100.0.5', '10.100.0.6']);
    expect(ipsOf(r).fixed).toBe('10.100.0.3');

    const full = await a.assignAll([...services, svc('f')]);
    expect(full.rejected.map((x) => x.service)).toEqual(['default/f']);
    expect(full.rejected[0]?.error).toMatch(/no ClusterIP left in 10\.100\.0\.0\/29/);
    expect(full.services.map((s) => s.metadata.name)).not.toContain('f');
  });

  it('prefers the upper part of the range, leaving the bottom to fixed addresses', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root });
    const r = await a.assignAll(Array.from({ length: 50 }, (_, i) => svc(`s${i}`)));
    for (const s of r.services) expect(parseIPv4(s.spec.clusterIP) ?? 0).toBeGreaterThanOrEqual(parseIPv4('10.96.1.1') ?? 0);
  });

  it('frees the address of a Service that is gone, and reuses it', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root, serviceCIDR: '10.100.0.0/30' });
    // A /30 has two usable addresses.
    const r1 = await a.assignAll([svc('a'), svc('b')]);
    expect(r1.rejected).toEqual([]);
    const freed = ipsOf(r1).b;
    const r2 = await a.assignAll([svc('a'), svc('c')]);
    expect(ipsOf(r2)).toEqual({ a: ipsOf(r1).a, c: freed });
    expect(a.lookup('default/b')).toBeUndefined();
    const stored = JSON.parse(await readFile(a.file, 'utf8')) as { clusterIPs: Record<string, string> };
    expect(Object.keys(stored.clusterIPs)).toEqual(['default/a', 'default/c']);
  });

  it('refuses a fixed address another Service holds, first come first served', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root });
    await a.assignAll([svc('dns', { clusterIP: '10.96.0.10' })]);
    const r = await a.assignAll([svc('another', { clusterIP: '10.96.0.10' }), svc('dns', { clusterIP: '10.96.0.10' })]);
    expect(ipsOf(r)).toEqual({ dns: '10.96.0.10' });
    expect(r.rejected).toEqual([
      {
        service: 'default/another',
        error:
          'Service "default/another": spec.clusterIP: Invalid value: "10.96.0.10": failed to allocate IP 10.96.0.10: provided IP is already allocated (to Service "default/dns")',
      },
    ]);
  });

  it('moves a Service that starts asking for a fixed address, and gives none to headless or ExternalName Services', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root });
    const r1 = await a.assignAll([svc('web')]);
    const auto = ipsOf(r1).web ?? '';
    const r2 = await a.assignAll([
      svc('web', { clusterIP: '10.96.0.50' }),
      svc('db', { clusterIP: 'None' }),
      svc('ext', { type: 'ExternalName', externalName: 'x.example.com' }),
    ]);
    expect(ipsOf(r2)).toEqual({ web: '10.96.0.50', db: 'None', ext: undefined });
    expect(a.allocations()).toEqual(new Map([['default/web', '10.96.0.50']]));
    // The old automatic address is free again.
    expect(a.allocate('default/other', auto)).toBe(auto);
  });

  it('refuses addresses outside the range or not IPv4', async () => {
    const a = await ClusterIPAllocator.open({ rootDir: root });
    expect(() => a.allocate('default/x', '10.0.0.1')).toThrow(ClusterIPAllocationError);
    expect(() => a.allocate('default/x', '10.96.0.0')).toThrow(/not in the valid range\. The range of valid IPs is 10\.96\.0\.0\/12/);
    const r = await a.assignAll([svc('v6', { clusterIP: 'fd00::1' })]);
    expect(r.services).toEqual([]);
    expect(r.rejected[0]?.error).toBe('Service "default/v6": spec.clusterIP: Invalid value: "fd00::1": must be a valid IPv4 address');
  });

  it('starts afresh from a corrupt file and drops remembered addresses outside a changed range', async () => {
    await mkdir(join(root, 'proxy'), { recursive: true });
    await writeFile(join(root, 'proxy', 'cluster-ips.json'), '{not json');
    const a = await ClusterIPAllocator.open({ rootDir: root });
    expect(a.allocations().size).toBe(0);

    await writeFile(
      join(root, 'proxy', 'cluster-ips.json'),
      JSON.stringify({ serviceCIDR: '10.96.0.0/12', clusterIPs: { 'default/a': '10.96.5.5', 'default/b': '10.200.0.1' } }),
    );
    const b = await ClusterIPAllocator.open({ rootDir: root, serviceCIDR: '10.96.0.0/16' });
    expect(b.allocations()).toEqual(new Map([['default/a', '10.96.5.5']]));
  });
});
