import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodePortAllocator } from '../../../../agent/network/proxy/node-port-allocator.js';
import type { Service, ServicePort } from '../../../../agent/network/proxy/service-types.js';

function svc(name: string, ports: ServicePort[], type: 'NodePort' | 'ClusterIP' | 'LoadBalancer' = 'NodePort'): Service {
  return { metadata: { name, namespace: 'default' }, spec: { type, ports } };
}
const nodePorts = (r: { services: Service[] }) => Object.fromEntries(r.services.map((s) => [s.metadata.name, (s.spec.ports ?? []).map((p) => p.nodePort)]));

describe('NodePortAllocator', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-np-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives every port of NodePort and LoadBalancer Services a distinct port of 30000-32767, kept across restarts; ClusterIP Services get none', async () => {
    const a = await NodePortAllocator.open({ rootDir: root });
    const services = [
      svc('web', [
        { name: 'http', port: 80 },
        { name: 'https', port: 443 },
      ]),
      svc('lb', [{ port: 53, protocol: 'UDP' }], 'LoadBalancer'),
      svc('inner', [{ port: 80 }], 'ClusterIP'),
    ];
    const first = await a.assignAll(services);
    expect(first.rejected).toEqual([]);
    const ports = [...first.services[0]!.spec.ports!.map((p) => p.nodePort), first.services[1]!.spec.ports![0]!.nodePort];
    expect(new Set(ports).size).toBe(3);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(30000);
    for (const p of ports) expect(p).toBeLessThanOrEqual(32767);
    expect(first.services[2]).toBe(services[2]);

    const b = await NodePortAllocator.open({ rootDir: root });
    expect(nodePorts(await b.assignAll(services))).toEqual(nodePorts(first));
    const stored = JSON.parse(await readFile(join(root, 'proxy', 'node-ports.json'), 'utf8')) as { nodePorts: Record<string, number> };
    expect(Object.keys(stored.nodePorts).sort()).toEqual(['default/lb:#0/UDP', 'default/web:http/TCP', 'default/web:https/TCP']);
  });

  it('honours a requested port, refuses one another Service holds (naming both), and frees the ports of removed Services', async () => {
    const a = await NodePortAllocator.open({ rootDir: root });
    const first = await a.assignAll([svc('a', [{ port: 80, nodePort: 30080 }]), svc('b', [{ port: 80, nodePort: 30080 }])]);
    expect(nodePorts(first)).toEqual({ a: [30080] });
    expect(first.rejected).toEqual([
      {
        service: 'default/b',
        error: 'Service "default/b": spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated (to Service "default/a")',
      },
    ]);
    // The holder keeps its port even when the other asks first next time.
    const again = await a.assignAll([svc('b', [{ port: 80, nodePort: 30080 }]), svc('a', [{ port: 80, nodePort: 30080 }])]);
    expect(nodePorts(again)).toEqual({ a: [30080] });
    const freed = await a.assignAll([svc('b', [{ port: 80, nodePort: 30080 }])]);
    expect(nodePorts(freed)).toEqual({ b: [30080] });
    expect(freed.rejected).toEqual([]);
  });

  it('lets one Service use one number for TCP and UDP', async () => {
    const a = await NodePortAllocator.open({ rootDir: root });
    const r = await a.assignAll([
      svc('dns', [
        { name: 'tcp', port: 53, nodePort: 30053 },
        { name: 'udp', port: 53, protocol: 'UDP', nodePort: 30053 },
      ]),
    ]);
    expect(r.rejected).toEqual([]);
    expect(nodePorts(r)).toEqual({ dns: [30053, 30053] });
  });
});
