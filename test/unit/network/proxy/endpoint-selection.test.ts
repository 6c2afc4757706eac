import { describe, it, expect } from 'vitest';
import {
  categorizeEndpoints,
  ipv4ToNumber,
  isProgrammableEndpointIP,
  isProgrammableServicePort,
  selectEndpoints,
} from '../../../../agent/network/proxy/endpoint-selection.js';
import { endpoint, servicePort } from './proxy-fixtures.js';

const ips = (eps: Array<{ ip: string; port: number }>) => eps.map((e) => `${e.ip}:${e.port}`);

describe('selectEndpoints', () => {
  it('takes the Ready endpoints and leaves the others out', () => {
    const svc = servicePort('ns', 'web', {
      endpoints: [
        endpoint('10.244.0.2'),
        endpoint('10.244.0.3', 8080, { ready: false, serving: false }),
        endpoint('10.244.0.4', 8080, { ready: false, serving: true, terminating: true }),
      ],
    });
    expect(ips(selectEndpoints(svc, 'cluster'))).toEqual(['10.244.0.2:8080']);
  });

  it('falls back to Serving+Terminating endpoints only when none is Ready', () => {
    const svc = servicePort('ns', 'web', {
      endpoints: [
        endpoint('10.244.0.3', 8080, { ready: false, serving: false, terminating: true }),
        endpoint('10.244.0.4', 8080, { ready: false, serving: true, terminating: true }),
        endpoint('10.244.0.5', 8080, { ready: false, serving: true, terminating: false }),
      ],
    });
    expect(ips(selectEndpoints(svc, 'cluster'))).toEqual(['10.244.0.4:8080']);
  });

  it('local traffic sees only this node, with its own terminating fallback', () => {
    const svc = servicePort('ns', 'web', {
      endpoints: [endpoint('10.244.1.2'), endpoint('10.244.0.4', 8080, { ready: false, serving: true, terminating: true, isLocal: true })],
    });
    expect(ips(selectEndpoints(svc, 'cluster'))).toEqual(['10.244.1.2:8080']);
    expect(ips(selectEndpoints(svc, 'local'))).toEqual(['10.244.0.4:8080']);
    const readyLocal = servicePort('ns', 'web', {
      endpoints: [
        endpoint('10.244.0.4', 8080, { isLocal: true }),
        endpoint('10.244.0.5', 8080, { ready: false, serving: true, terminating: true, isLocal: true }),
      ],
    });
    expect(ips(selectEndpoints(readyLocal, 'local'))).toEqual(['10.244.0.4:8080']);
  });

  it('never programs loopback or link-local endpoints (CVE-2021-25737) nor malformed ones', () => {
    const svc = servicePort('ns', 'web', {
      endpoints: [
        endpoint('127.0.0.1'),
        endpoint('127.255.0.9'),
        endpoint('169.254.169.254', 80),
        endpoint('0.0.0.0'),
        endpoint('224.0.0.5'),
        endpoint('10.244.0.010'),
        endpoint('fd00::1'),
        endpoint('10.244.0.7', 0),
        endpoint('10.244.0.8', 70000),
        endpoint('10.244.0.9'),
      ],
    });
    expect(ips(selectEndpoints(svc, 'cluster'))).toEqual(['10.244.0.9:8080']);
  });

  it('orders endpoints by address and port and drops duplicates, whatever the input order', () => {
    const svc = servicePort('ns', 'web', {
      endpoints: [endpoint('10.244.0.10', 81), endpoint('10.244.0.9'), endpoint('10.244.0.10', 80), endpoint('10.244.0.9')],
    });
    expect(ips(selectEndpoints(svc, 'cluster'))).toEqual(['10.244.0.9:8080', '10.244.0.10:80', '10.244.0.10:81']);
  });
});

describe('isProgrammableEndpointIP and ipv4ToNumber', () => {
  it('refuses exactly the special ranges', () => {
    expect(isProgrammableEndpointIP('126.255.255.255')).toBe(true);
    expect(isProgrammableEndpointIP('128.0.0.1')).toBe(true);
    expect(isProgrammableEndpointIP('169.253.1.1')).toBe(true);
    expect(isProgrammableEndpointIP('169.255.1.1')).toBe(true);
    expect(isProgrammableEndpointIP('224.0.1.1')).toBe(true);
    expect(isProgrammableEndpointIP('169.254.0.1')).toBe(false);
    expect(isProgrammableEndpointIP('127.0.0.53')).toBe(false);
  });

  it('parses strict dotted quads', () => {
    expect(ipv4ToNumber('10.96.0.1')).toBe(0x0a600001);
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1..3.4', '1.2.3.4 ', 'a.b.c.d', 'None']) {
      expect(ipv4ToNumber(bad), bad).toBe(-1);
    }
  });
});

describe('categorizeEndpoints', () => {
  const eps = [endpoint('10.244.1.2'), endpoint('10.244.0.3', 8080, { isLocal: true })];

  it('Cluster policies use every endpoint and never the local list', () => {
    const cat = categorizeEndpoints(servicePort('ns', 'web', { endpoints: eps, nodePort: 30080 }));
    expect(ips(cat.cluster)).toEqual(['10.244.0.3:8080', '10.244.1.2:8080']);
    expect(cat.local).toEqual([]);
    expect(cat.usesLocalEndpoints).toBe(false);
    expect(cat.hasInternalEndpoints && cat.hasExternalEndpoints).toBe(true);
  });

  it('Local external policy keeps cluster endpoints for short-circuited traffic', () => {
    const cat = categorizeEndpoints(servicePort('ns', 'web', { endpoints: eps, nodePort: 30080, externalTrafficLocal: true }));
    expect(cat.usesClusterEndpoints).toBe(true);
    expect(ips(cat.local)).toEqual(['10.244.0.3:8080']);
    expect(ips(cat.reachable)).toEqual(['10.244.0.3:8080', '10.244.1.2:8080']);
  });

  it('Local internal policy without a local endpoint drops ClusterIP traffic but the Service has endpoints', () => {
    const cat = categorizeEndpoints(servicePort('ns', 'web', { endpoints: [endpoint('10.244.1.2')], internalTrafficLocal: true }));
    expect(cat.hasEndpoints).toBe(true);
    expect(cat.hasInternalEndpoints).toBe(false);
    expect(cat.usesClusterEndpoints).toBe(false);
    expect(cat.reachable).toEqual([]);
  });

  it('no usable endpoint anywhere means no endpoints at all', () => {
    const cat = categorizeEndpoints(servicePort('ns', 'web', { endpoints: [endpoint('127.0.0.1')], nodePort: 30080 }));
    expect(cat.hasEndpoints).toBe(false);
    expect(cat.hasExternalEndpoints).toBe(false);
  });
});

describe('isProgrammableServicePort', () => {
  it('accepts a valid port and refuses headless, empty and malformed ones', () => {
    expect(isProgrammableServicePort(servicePort('ns', 'a'))).toBe(true);
    expect(isProgrammableServicePort(servicePort('ns', 'a', { clusterIP: 'None' }))).toBe(false);
    expect(isProgrammableServicePort(servicePort('ns', 'a', { clusterIP: '' }))).toBe(false);
    expect(isProgrammableServicePort(servicePort('ns', 'a', { clusterIP: '10.96.0.1; reboot' }))).toBe(false);
    expect(isProgrammableServicePort(servicePort('ns', 'a', { port: 0 }))).toBe(false);
    expect(isProgrammableServicePort(servicePort('ns', 'a', { nodePort: 65536 }))).toBe(false);
  });
});
