import { describe, it, expect } from 'vitest';
import { hash } from 'node:crypto';
import {
  endpointChain,
  isServiceChainName,
  nftEndpointChainBase,
  nftServiceChainBase,
  portProtoHash,
  serviceClusterChain,
  serviceExternalChain,
  serviceFirewallChain,
  serviceLocalChain,
  sha256,
} from '../../../../agent/network/proxy/chain-names.js';
import type { ServicePortName } from '../../../../agent/network/proxy/service-model.js';

const kubernetesHttps: ServicePortName = { namespace: 'default', name: 'kubernetes', port: 'https', protocol: 'TCP' };

describe('iptables chain names', () => {
  it('are the names kube-proxy gives the same Service ports', () => {
    // Published iptables-save output of real clusters.
    expect(serviceClusterChain(kubernetesHttps)).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
    expect(serviceClusterChain({ namespace: 'kube-system', name: 'kube-dns', port: 'dns', protocol: 'UDP' })).toBe('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(serviceClusterChain({ namespace: 'kube-system', name: 'kube-dns', port: 'dns-tcp', protocol: 'TCP' })).toBe('KUBE-SVC-ERIFXISQEP7F7OF4');
    expect(serviceClusterChain({ namespace: 'kube-system', name: 'kube-dns', port: 'metrics', protocol: 'TCP' })).toBe('KUBE-SVC-JD5MR3NA4I4DYORP');
    expect(serviceClusterChain({ namespace: 'default', name: 'nginx', port: '', protocol: 'TCP' })).toBe('KUBE-SVC-2CMXP7HKUVJN7L6M');
    expect(portProtoHash('default/kubernetes:https', 'tcp')).toBe('NPX46M4PTMTKRN6Y');
  });

  it('share one hash across SVC/SVL/EXT/FW and stay within the 28-character limit', () => {
    const names = [serviceClusterChain, serviceLocalChain, serviceExternalChain, serviceFirewallChain].map((f) => f(kubernetesHttps));
    expect(names).toEqual(['KUBE-SVC-NPX46M4PTMTKRN6Y', 'KUBE-SVL-NPX46M4PTMTKRN6Y', 'KUBE-EXT-NPX46M4PTMTKRN6Y', 'KUBE-FW-NPX46M4PTMTKRN6Y']);
    const sep = endpointChain(kubernetesHttps, '10.0.0.1', 6443);
    expect(sep).toMatch(/^KUBE-SEP-[A-Z2-7]{16}$/);
    for (const n of [...names, sep]) expect(n.length).toBeLessThanOrEqual(28);
  });

  it('hash the endpoint as ip:port, stable for the same input and distinct otherwise', () => {
    const expected = 'KUBE-SEP-' + base32(hash('sha256', 'default/kubernetes:httpstcp10.0.0.1:6443', 'buffer')).slice(0, 16);
    expect(endpointChain(kubernetesHttps, '10.0.0.1', 6443)).toBe(expected);
    expect(endpointChain({ ...kubernetesHttps }, '10.0.0.1', 6443)).toBe(expected);
    expect(endpointChain(kubernetesHttps, '10.0.0.1', 6444)).not.toBe(expected);
    expect(endpointChain({ ...kubernetesHttps, protocol: 'UDP' }, '10.0.0.1', 6443)).not.toBe(expected);
  });

  it('never serve a stale name for a name object changed in place', () => {
    const n: ServicePortName = { namespace: 'default', name: 'kubernetes', port: 'https', protocol: 'TCP' };
    expect(serviceClusterChain(n)).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
    n.name = 'nginx';
    n.port = '';
    expect(serviceClusterChain(n)).toBe('KUBE-SVC-2CMXP7HKUVJN7L6M');
  });

  it('recognize the per-Service chains and nothing else', () => {
    expect(['KUBE-SVC-X', 'KUBE-SVL-X', 'KUBE-EXT-X', 'KUBE-FW-X', 'KUBE-SEP-X'].every(isServiceChainName)).toBe(true);
    expect(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'DOCKER', 'KUBE-PROXY-CANARY'].some(isServiceChainName)).toBe(false);
  });
});

describe('nftables chain names', () => {
  it('are kube-proxy nftables mode names', () => {
    const n: ServicePortName = { namespace: 'ns1', name: 'svc1', port: 'p80', protocol: 'TCP' };
    expect(nftServiceChainBase(n)).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(nftEndpointChainBase(n, '10.180.0.1', 80)).toBe('5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
  });
});

describe('sha256', () => {
  it('matches node:crypto across block boundaries and for non-ASCII input', () => {
    for (const input of ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(63), 'a'.repeat(64), 'b'.repeat(119), 'c'.repeat(120), 'é-ns/ñame:port']) {
      expect(Buffer.from(sha256(input)).toString('hex'), `length ${input.length}`).toBe(hash('sha256', input, 'hex'));
    }
  });
});

function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i + 5 <= bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return out;
}
