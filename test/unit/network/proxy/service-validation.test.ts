import { describe, expect, it } from 'vitest';
import type { Service } from '../../../../agent/network/proxy/service-types.js';
import { formatIPv4, isAllocatableIP, parseIPv4, parseIPv4CIDR, validateService } from '../../../../agent/network/proxy/service-validation.js';

const CIDR = { serviceCIDR: '10.96.0.0/12' };

function svc(spec: Record<string, unknown>, name = 'web', namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec } as unknown as Service;
}

function errorsOf(s: Service, where = 'svc.yaml#0'): string[] {
  const r = validateService(s, where, CIDR);
  return r.ok ? [] : r.errors;
}

/** The field part of each error, without the "<where>: Service ..." prefix. */
function fieldsOf(s: Service): string[] {
  return errorsOf(s).map((e) => e.replace(/^svc\.yaml#0: Service "[^"]*": /, ''));
}

describe('IPv4 helpers', () => {
  it('parses dotted quads strictly and formats them back', () => {
    expect(parseIPv4('10.96.0.1')).toBe(0x0a600001);
    expect(formatIPv4(0xffffffff)).toBe('255.255.255.255');
    expect(formatIPv4(parseIPv4('192.168.1.20') ?? 0)).toBe('192.168.1.20');
    for (const bad of ['10.96.0', '10.96.0.256', '010.96.0.1', '10.96.0.1 ', 'fd00::1', '', 42]) expect(parseIPv4(bad)).toBeUndefined();
  });

  it('normalizes a CIDR and excludes the network and broadcast addresses from allocation', () => {
    const cidr = parseIPv4CIDR('10.96.1.2/12');
    expect(cidr?.text).toBe('10.96.0.0/12');
    expect(cidr?.size).toBe(2 ** 20);
    if (!cidr) return;
    expect(isAllocatableIP(cidr, parseIPv4('10.96.0.0') ?? 0)).toBe(false);
    expect(isAllocatableIP(cidr, parseIPv4('10.111.255.255') ?? 0)).toBe(false);
    expect(isAllocatableIP(cidr, parseIPv4('10.96.0.1') ?? 0)).toBe(true);
    expect(isAllocatableIP(cidr, parseIPv4('10.112.0.1') ?? 0)).toBe(false);
    expect(parseIPv4CIDR('10.96.0.0/33')).toBeUndefined();
    expect(parseIPv4CIDR('10.96.0.0')).toBeUndefined();
  });
});

describe('validateService', () => {
  it('accepts a defaulted Service, an unallocated one, headless and ExternalName Services', () => {
    expect(validateService(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }), '', CIDR)).toEqual({ ok: true });
    expect(
      errorsOf(
        svc({
          type: 'NodePort',
          clusterIP: '10.96.0.10',
          selector: { 'app.kubernetes.io/name': 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
          ],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
          externalTrafficPolicy: 'Local',
          internalTrafficPolicy: 'Cluster',
          externalIPs: ['192.0.2.1'],
        }),
      ),
    ).toEqual([]);
    expect(errorsOf(svc({ clusterIP: 'None', selector: { app: 'db' } }))).toEqual([]);
    expect(errorsOf(svc({ type: 'ExternalName', externalName: 'db.example.com.' }))).toEqual([]);
  });

  it('words a bad port as the apiserver does, naming where the Service came from', () => {
    expect(errorsOf(svc({ ports: [{ port: 70000 }] }))).toEqual([
      'svc.yaml#0: Service "default/web": spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ]);
    expect(fieldsOf(svc({ ports: [{ port: '80' }] }))).toEqual(['spec.ports[0].port: Invalid value: "80": must be an integer']);
    expect(fieldsOf(svc({ ports: [{}] }))).toEqual(['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']);
    expect(fieldsOf(svc({}))).toEqual(['spec.ports: Required value']);
  });

  it('refuses a protocol other than TCP, UDP and SCTP', () => {
    expect(fieldsOf(svc({ ports: [{ port: 80, protocol: 'HTTP' }] }))).toEqual([
      'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ]);
  });

  it('requires names with several ports and refuses duplicates', () => {
    expect(fieldsOf(svc({ ports: [{ port: 80 }, { name: 'b', port: 81 }] }))).toEqual(['spec.ports[0].name: Required value']);
    expect(
      fieldsOf(
        svc({
          ports: [
            { name: 'a', port: 80 },
            { name: 'a', port: 81 },
          ],
        }),
      ),
    ).toEqual(['spec.ports[1].name: Duplicate value: "a"']);
    expect(
      fieldsOf(
        svc({
          ports: [
            { name: 'a', port: 80 },
            { name: 'b', port: 80 },
          ],
        }),
      ),
    ).toEqual(['spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}']);
    // The same number on another protocol is a different port.
    expect(
      fieldsOf(
        svc({
          ports: [
            { name: 'a', port: 53 },
            { name: 'b', port: 53, protocol: 'UDP' },
          ],
        }),
      ),
    ).toEqual([]);
    expect(fieldsOf(svc({ ports: [{ name: 'Http', port: 80 }] }))[0]).toMatch(/^spec\.ports\[0\]\.name: Invalid value: "Http": a lowercase RFC 1123 label/);
  });

  it('checks targetPort numbers and names', () => {
    expect(fieldsOf(svc({ ports: [{ port: 80, targetPort: 0 }] }))).toEqual([]);
    expect(fieldsOf(svc({ ports: [{ port: 80, targetPort: 65536 }] }))).toEqual([
      'spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive',
    ]);
    expect(fieldsOf(svc({ ports: [{ port: 80, targetPort: '8080' }] }))).toEqual([
      'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)',
    ]);
  });

  it('checks selector keys and values', () => {
    expect(fieldsOf(svc({ selector: { 'bad key': 'x' }, ports: [{ port: 80 }] }))[0]).toMatch(
      /^spec\.selector: Invalid value: "bad key": name part must consist of alphanumeric characters/,
    );
    expect(fieldsOf(svc({ selector: { app: 'web server' }, ports: [{ port: 80 }] }))[0]).toMatch(
      /^spec\.selector: Invalid value: "web server": a valid label must be an empty string or consist of/,
    );
    expect(fieldsOf(svc({ selector: { app: true }, ports: [{ port: 80 }] }))).toEqual(['spec.selector: Invalid value: true: must be a string']);
  });

  it('refuses a clusterIP that is not IPv4 or lies outside the service CIDR', () => {
    expect(fieldsOf(svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIP: Invalid value: "10.0.0.1": the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    ]);
    expect(fieldsOf(svc({ clusterIP: '10.96.0.0', ports: [{ port: 80 }] }))[0]).toMatch(/not in the valid range/);
    expect(fieldsOf(svc({ clusterIP: 'banana', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIP: Invalid value: "banana": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
    expect(fieldsOf(svc({ clusterIP: 'fd00::1', ports: [{ port: 80 }] }))[0]).toMatch(/^spec\.clusterIP: Invalid value: "fd00::1": must be an IPv4 address/);
    // Dual stack with IPv6 first: served through its IPv4 address.
    expect(fieldsOf(svc({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1', '10.96.0.5'], ports: [{ port: 80 }] }))).toEqual([]);
    expect(fieldsOf(svc({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIP: Invalid value: "None": may not be set to \'None\' for NodePort services',
    ]);
  });

  it('checks nodePort against the type and the 30000-32767 range', () => {
    expect(fieldsOf(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }))).toEqual([
      'spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    ]);
    expect(fieldsOf(svc({ ports: [{ port: 80, nodePort: 30080 }] }))).toEqual([
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
    expect(
      fieldsOf(
        svc({
          type: 'LoadBalancer',
          ports: [
            { name: 'a', port: 80, nodePort: 30080 },
            { name: 'b', port: 81, nodePort: 30080 },
          ],
        }),
      ),
    ).toEqual(['spec.ports[1].nodePort: Duplicate value: 30080']);
  });

  it('checks type, affinity, traffic policies, externalIPs and the name', () => {
    expect(fieldsOf(svc({ type: 'Magic', ports: [{ port: 80 }] }))).toEqual([
      'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]);
    expect(fieldsOf(svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } }, ports: [{ port: 80 }] }))).toEqual([
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
    ]);
    expect(fieldsOf(svc({ internalTrafficPolicy: 'Nearby', ports: [{ port: 80 }] }))).toEqual([
      'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"',
    ]);
    expect(fieldsOf(svc({ externalIPs: ['1.2.3'], ports: [{ port: 80 }] }))[0]).toMatch(/^spec\.externalIPs\[0\]: Invalid value: "1\.2\.3"/);
    expect(fieldsOf(svc({ ports: [{ port: 80 }] }, 'Web'))[0]).toMatch(/^metadata\.name: Invalid value: "Web": a DNS-1035 label/);
    expect(fieldsOf(svc({ type: 'ExternalName' }))).toEqual(['spec.externalName: Required value']);
  });

  it('reports every problem of a Service, each naming the object', () => {
    const errors = errorsOf(svc({ ports: [{ port: 0, protocol: 'ICMP' }], selector: { '-x': 'y' } }, 'api', 'shop'), 'apiserver');
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(e.startsWith('apiserver: Service "shop/api": spec.')).toBe(true);
  });

  it('survives input that is not shaped like a Service at all', () => {
    const bad = { metadata: 'x', spec: { ports: 'eighty' } } as unknown as Service;
    const r = validateService(bad, '', CIDR);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors).toEqual([
        'Service "default/": metadata.name: Required value: name or generateName is required',
        'Service "default/": spec.ports: Invalid value: "eighty": must be a list',
      ]);
  });
});
