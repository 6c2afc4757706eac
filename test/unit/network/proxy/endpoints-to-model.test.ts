import { describe, expect, it } from 'vitest';
import { attachEndpoints, endpointAddressProblem, endpointsToSlices } from '../../../../agent/network/proxy/endpoints-to-model.js';
import type { ServicePortInfo } from '../../../../agent/network/proxy/service-model.js';
import type { Endpoint, EndpointSlice } from '../../../../agent/network/proxy/service-types.js';

function port(portName: string, protocol: 'TCP' | 'UDP' = 'TCP', name = 'web'): ServicePortInfo {
  return {
    name: { namespace: 'default', name, port: portName, protocol },
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
  };
}

function slice(name: string, endpoints: Endpoint[] | null, ports: EndpointSlice['ports'], extra: Partial<EndpointSlice> = {}): EndpointSlice {
  return {
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints,
    ports,
    ...extra,
  };
}

function recorder() {
  const logs: Array<[string, string, string]> = [];
  return {
    logs,
    log: (object: string, field: string, msg: string) => {
      logs.push([object, field, msg]);
    },
  };
}

describe('attachEndpoints', () => {
  it('matches slice ports by name and protocol and defaults the conditions as the API says', () => {
    const http = port('http');
    const dns = port('dns', 'UDP');
    const { logs, log } = recorder();
    attachEndpoints(
      [http, dns],
      [
        slice(
          'web-a',
          [
            { addresses: ['10.88.0.2'], nodeName: 'node-a' },
            { addresses: ['10.88.0.3'], conditions: { ready: false }, nodeName: 'node-b' },
            { addresses: ['10.88.0.4'], conditions: { ready: false, serving: true, terminating: true } },
          ],
          [
            { name: 'http', port: 8080 },
            { name: 'dns', protocol: 'UDP', port: 5353 },
            { name: 'dns', protocol: 'TCP', port: 9999 },
          ],
        ),
      ],
      'node-a',
      log,
    );
    expect(logs).toEqual([]);
    expect(http.endpoints).toEqual([
      { ip: '10.88.0.2', port: 8080, ready: true, serving: true, terminating: false, isLocal: true },
      { ip: '10.88.0.3', port: 8080, ready: false, serving: false, terminating: false, isLocal: false },
      { ip: '10.88.0.4', port: 8080, ready: false, serving: true, terminating: true, isLocal: false },
    ]);
    expect(dns.endpoints.map((e) => `${e.ip}:${e.port}`)).toEqual(['10.88.0.2:5353', '10.88.0.3:5353', '10.88.0.4:5353']);
  });

  it('matches an unnamed Service port to an unnamed slice port', () => {
    const p = port('');
    attachEndpoints([p], [slice('web-a', [{ addresses: ['10.88.0.2'] }], [{ port: 8080 }])], 'n', () => {});
    expect(p.endpoints.map((e) => e.port)).toEqual([8080]);
  });

  it('keeps one endpoint per ip:port across slices, preferring the ready one', () => {
    const p = port('http');
    attachEndpoints(
      [p],
      [
        slice('web-a', [{ addresses: ['10.88.0.9'], conditions: { ready: false } }, { addresses: ['10.88.0.10'] }], [{ name: 'http', port: 80 }]),
        slice(
          'web-b',
          [
            { addresses: ['10.88.0.9'], conditions: { ready: true } },
            { addresses: ['10.88.0.10'], conditions: { ready: false } },
          ],
          [{ name: 'http', port: 80 }],
        ),
      ],
      'n',
      () => {},
    );
    // Sorted numerically by address, not as text.
    expect(p.endpoints).toEqual([
      { ip: '10.88.0.9', port: 80, ready: true, serving: true, terminating: false, isLocal: false },
      { ip: '10.88.0.10', port: 80, ready: true, serving: true, terminating: false, isLocal: false },
    ]);
  });

  it('skips IPv6 and FQDN slices, and slices of another Service', () => {
    const p = port('http');
    const ports = [{ name: 'http', port: 80 }];
    attachEndpoints(
      [p],
      [
        slice('web-v6', [{ addresses: ['fd00::1'] }], ports, { addressType: 'IPv6' }),
        slice('web-fqdn', [{ addresses: ['db.example.com'] }], ports, { addressType: 'FQDN' }),
        {
          ...slice('other', [{ addresses: ['10.88.0.7'] }], ports),
          metadata: { name: 'other', namespace: 'default', labels: { 'kubernetes.io/service-name': 'api' } },
        },
        slice('web-a', null, ports),
      ],
      'n',
      () => {
        throw new Error('nothing to log');
      },
    );
    expect(p.endpoints).toEqual([]);
  });

  it('logs a malformed address with the slice and field and skips that address only', () => {
    const p = port('http');
    const { logs, log } = recorder();
    attachEndpoints(
      [p, port('other')],
      [
        slice(
          'web-x1',
          [
            { addresses: ['10.88.0.300'] },
            { addresses: ['bogus', '10.88.0.5'] },
            { addresses: ['127.0.0.1'] },
            { addresses: ['169.254.169.254'] },
            { addresses: ['10.88.0.6'] },
            { addresses: [] },
          ],
          [
            { name: 'http', port: 80 },
            { name: 'other', port: 70000 },
          ],
        ),
      ],
      'n',
      log,
    );
    expect(p.endpoints.map((e) => e.ip)).toEqual(['10.88.0.5', '10.88.0.6']);
    // Each problem once, even though two Service ports read the slice.
    expect(logs).toEqual([
      ['EndpointSlice default/web-x1', 'ports[1].port', 'Invalid value: 70000: must be between 1 and 65535, inclusive'],
      ['EndpointSlice default/web-x1', 'endpoints[0].addresses[0]', 'Invalid value: "10.88.0.300": must be a valid IPv4 address'],
      ['EndpointSlice default/web-x1', 'endpoints[1].addresses[0]', 'Invalid value: "bogus": must be a valid IPv4 address'],
      ['EndpointSlice default/web-x1', 'endpoints[2].addresses[0]', 'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'],
      [
        'EndpointSlice default/web-x1',
        'endpoints[3].addresses[0]',
        'Invalid value: "169.254.169.254": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      ],
      ['EndpointSlice default/web-x1', 'endpoints[5].addresses', 'Required value'],
    ]);
  });

  it('ignores a slice port without a number and reports a bad protocol', () => {
    const p = port('http');
    const { logs, log } = recorder();
    attachEndpoints([p], [slice('web-a', [{ addresses: ['10.88.0.2'] }], [{ name: 'http' }, { name: 'http', protocol: 'ICMP' as 'TCP', port: 1 }])], 'n', log);
    expect(p.endpoints).toEqual([]);
    expect(logs).toEqual([['EndpointSlice default/web-a', 'ports[1].protocol', 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']]);
  });

  it('refuses special ranges beside malformed text', () => {
    expect(endpointAddressProblem('0.0.0.0')).toBe('may not be unspecified (0.0.0.0)');
    expect(endpointAddressProblem('224.0.0.5')).toMatch(/link-local multicast/);
    expect(endpointAddressProblem('224.0.1.5')).toBeUndefined();
    expect(endpointAddressProblem('10.1.2.3')).toBeUndefined();
  });
});

describe('endpointsToSlices', () => {
  it('turns each subset into a slice: addresses ready, notReadyAddresses not', () => {
    const slices = endpointsToSlices({
      metadata: { name: 'web', namespace: 'shop' },
      subsets: [
        {
          addresses: [{ ip: '10.88.0.2', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop' } }],
          notReadyAddresses: [{ ip: '10.88.0.3' }],
          ports: [{ name: 'http', port: 8080 }],
        },
      ],
    });
    expect(slices).toEqual([
      {
        metadata: {
          name: 'web-subset-0',
          namespace: 'shop',
          labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'nodelet-proxy' },
        },
        addressType: 'IPv4',
        endpoints: [
          {
            addresses: ['10.88.0.2'],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: 'node-a',
            targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
          },
          { addresses: ['10.88.0.3'], conditions: { ready: false, serving: false, terminating: false } },
        ],
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      },
    ]);
    const p = { ...port('http', 'TCP', 'web'), name: { namespace: 'shop', name: 'web', port: 'http', protocol: 'TCP' as const } };
    attachEndpoints([p], slices, 'node-a', () => {});
    expect(p.endpoints.map((e) => [e.ip, e.ready, e.isLocal])).toEqual([
      ['10.88.0.2', true, true],
      ['10.88.0.3', false, false],
    ]);
  });

  it('sets IPv6 addresses apart and reports malformed ones with the Endpoints field', () => {
    const logs: string[] = [];
    const slices = endpointsToSlices(
      {
        metadata: { name: 'web' },
        subsets: [{ addresses: [{ ip: 'fd00::5' }, { ip: 'nope' }, { ip: '10.88.0.4' }], ports: [{ port: 80 }] }],
      },
      (o, f, m) => logs.push(`${o} ${f}: ${m}`),
    );
    expect(slices.map((s) => [s.metadata.name, s.addressType, (s.endpoints ?? []).map((e) => e.addresses[0])])).toEqual([
      ['web-subset-0', 'IPv4', ['10.88.0.4']],
      ['web-subset-0-ipv6', 'IPv6', ['fd00::5']],
    ]);
    expect(logs).toEqual(['Endpoints default/web subsets[0].addresses[1].ip: Invalid value: "nope": must be a valid IPv4 address']);
  });
});
