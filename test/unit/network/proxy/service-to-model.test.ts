import { describe, expect, it } from 'vitest';
import { serviceKey } from '../../../../agent/network/proxy/service-model.js';
import { buildServiceMap, buildServicePorts, serviceClusterIPv4 } from '../../../../agent/network/proxy/service-to-model.js';
import type { Service, ServiceSpec } from '../../../../agent/network/proxy/service-types.js';

const CIDR = '10.96.0.0/12';

function svc(spec: ServiceSpec, name = 'web', extra: Partial<Service> = {}): Service {
  return { metadata: { name, namespace: 'shop' }, spec, ...extra };
}

describe('buildServicePorts', () => {
  it('fills in the Kubernetes defaults', () => {
    const ports = buildServicePorts(svc({ clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ port: 80 }] }), CIDR);
    expect(ports).toEqual([
      {
        name: { namespace: 'shop', name: 'web', port: '', protocol: 'TCP' },
        type: 'ClusterIP',
        clusterIP: '10.96.0.10',
        port: 80,
        nodePort: 0,
        externalIPs: [],
        loadBalancerIPs: [],
        stickySeconds: 0,
        externalTrafficLocal: false,
        internalTrafficLocal: false,
        endpoints: [],
      },
    ]);
    expect(serviceKey(ports[0] ?? { name: { namespace: '', name: '', port: '', protocol: 'TCP' } })).toBe('shop/web/TCP');
  });

  it('maps each port with its protocol, NodePort, affinity and traffic policies', () => {
    const ports = buildServicePorts(
      svc({
        type: 'NodePort',
        clusterIP: '10.96.0.11',
        ports: [
          { name: 'http', port: 80, nodePort: 30080 },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
        sessionAffinity: 'ClientIP',
        externalTrafficPolicy: 'Local',
        internalTrafficPolicy: 'Local',
        externalIPs: ['192.0.2.7', 'fd00::7', '192.0.2.7'],
      }),
      CIDR,
    );
    expect(ports.map((p) => [p.name.port, p.name.protocol, p.port, p.nodePort, p.stickySeconds, p.externalTrafficLocal, p.internalTrafficLocal])).toEqual([
      ['http', 'TCP', 80, 30080, 10800, true, true],
      ['dns', 'UDP', 53, 0, 10800, true, true],
    ]);
    expect(ports[0]?.externalIPs).toEqual(['192.0.2.7']);
    // Distinct arrays per port: a generator mutating one never touches another.
    expect(ports[0]?.externalIPs).not.toBe(ports[1]?.externalIPs);
  });

  it('keeps NodePorts only for NodePort and LoadBalancer, and Local external policy only where reachable from outside', () => {
    const [clusterIP] = buildServicePorts(svc({ clusterIP: '10.96.0.12', ports: [{ port: 80, nodePort: 30080 }], externalTrafficPolicy: 'Local' }), CIDR);
    expect([clusterIP?.nodePort, clusterIP?.externalTrafficLocal]).toEqual([0, false]);
    const [withExternal] = buildServicePorts(
      svc({ clusterIP: '10.96.0.12', ports: [{ port: 80 }], externalIPs: ['192.0.2.1'], externalTrafficPolicy: 'Local' }),
      CIDR,
    );
    expect(withExternal?.externalTrafficLocal).toBe(true);
    const [affinity] = buildServicePorts(
      svc({ clusterIP: '10.96.0.12', ports: [{ port: 80 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }),
      CIDR,
    );
    expect(affinity?.stickySeconds).toBe(30);
  });

  it('takes load balancer IPs from the status, except Proxy-mode ones', () => {
    const [lb] = buildServicePorts(
      svc({ type: 'LoadBalancer', clusterIP: '10.96.0.13', ports: [{ port: 443, nodePort: 31443 }] }, 'web', {
        status: { loadBalancer: { ingress: [{ ip: '203.0.113.5' }, { ip: '203.0.113.6', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }] } },
      }),
      CIDR,
    );
    expect([lb?.type, lb?.nodePort, lb?.loadBalancerIPs]).toEqual(['LoadBalancer', 31443, ['203.0.113.5']]);
  });

  it('programs nothing for ExternalName, headless, unallocated or out-of-range Services', () => {
    expect(buildServicePorts(svc({ type: 'ExternalName', externalName: 'x.example.com' }), CIDR)).toEqual([]);
    expect(buildServicePorts(svc({ clusterIP: 'None', ports: [{ port: 80 }] }), CIDR)).toEqual([]);
    expect(buildServicePorts(svc({ ports: [{ port: 80 }] }), CIDR)).toEqual([]);
    expect(buildServicePorts(svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }] }), CIDR)).toEqual([]);
  });

  it('serves a dual-stack Service through its IPv4 address', () => {
    const s = svc({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1', '10.96.0.14'], ports: [{ port: 80 }] });
    expect(serviceClusterIPv4(s)).toBe('10.96.0.14');
    expect(buildServicePorts(s, CIDR)[0]?.clusterIP).toBe('10.96.0.14');
  });
});

describe('buildServiceMap', () => {
  it('joins Services with their slices and skips invalid Services without touching the others', () => {
    const logs: string[] = [];
    const result = buildServiceMap({
      serviceCIDR: CIDR,
      nodeName: 'node-a',
      services: [
        svc({ clusterIP: '10.96.0.20', selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] }),
        svc({ clusterIP: '10.96.0.21', ports: [{ port: 70000 }] }, 'broken'),
        svc({ clusterIP: '10.96.0.22', ports: [{ port: 53, protocol: 'UDP' }] }, 'dns'),
      ],
      slices: [
        {
          metadata: { name: 'web-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['10.88.0.2'], nodeName: 'node-a' }, { addresses: ['x'] }],
          ports: [{ name: 'http', port: 8080 }],
        },
        {
          metadata: { name: 'unlabelled', namespace: 'shop' },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['10.88.0.3'] }],
          ports: [{ port: 53, protocol: 'UDP' }],
        },
      ],
      whereOf: (s) => `file-${s.metadata.name}`,
      log: (o, f, m) => logs.push(`${o} ${f}: ${m}`),
    });
    expect([...result.services.keys()]).toEqual(['shop/web:http/TCP', 'shop/dns/UDP']);
    expect(result.services.get('shop/web:http/TCP')?.endpoints).toEqual([
      { ip: '10.88.0.2', port: 8080, ready: true, serving: true, terminating: false, isLocal: true },
    ]);
    // A slice without the service-name label belongs to no Service.
    expect(result.services.get('shop/dns/UDP')?.endpoints).toEqual([]);
    expect(result.invalid).toEqual([
      {
        service: 'shop/broken',
        errors: ['file-broken: Service "shop/broken": spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'],
      },
    ]);
    expect(logs).toEqual(['EndpointSlice shop/web-abc endpoints[1].addresses[0]: Invalid value: "x": must be a valid IPv4 address']);
  });
});
