import { describe, it, expect } from 'vitest';
import type { Pod, PodSpec } from '../../../agent/api/types.js';
import { generateSandboxConfig, podHostname, sysctlToDots } from '../../../agent/pods/sandbox-config.js';
import {
  LABEL_MANAGED,
  LABEL_NODE,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_SOURCE,
  LABEL_POD_UID,
  LABEL_TERMINATION_GRACE,
} from '../../../agent/runtime/labels.js';

function pod(spec: Partial<PodSpec> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-1', ...meta },
    spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec },
  };
}

const gen = (p: Pod, extra: { dns?: { servers: string[]; searches: string[]; options: string[] } } = {}) =>
  generateSandboxConfig({ pod: p, attempt: 2, nodeName: 'node-1', podSource: 'file', networkName: 'nodelet', image: 'nodelet/pause:0.1.0', ...extra });

describe('generateSandboxConfig', () => {
  it('fills metadata, network and image', () => {
    const cfg = gen(pod());
    expect(cfg.metadata).toEqual({ name: 'web', namespace: 'shop', uid: 'uid-1', attempt: 2 });
    expect(cfg.networkName).toBe('nodelet');
    expect(cfg.image).toBe('nodelet/pause:0.1.0');
    expect(cfg.portMappings).toEqual([]);
    expect(cfg.dns).toBeUndefined();
    expect(cfg.sysctls).toBeUndefined();
  });

  it('labels the sandbox with the pod, the node, the grace period and the source', () => {
    const cfg = gen(pod());
    expect(cfg.labels).toEqual({
      [LABEL_POD_NAME]: 'web',
      [LABEL_POD_NAMESPACE]: 'shop',
      [LABEL_POD_UID]: 'uid-1',
      [LABEL_MANAGED]: 'true',
      [LABEL_NODE]: 'node-1',
      [LABEL_TERMINATION_GRACE]: '30',
      [LABEL_POD_SOURCE]: 'file',
    });
    expect(gen(pod({ terminationGracePeriodSeconds: 5 })).labels[LABEL_TERMINATION_GRACE]).toBe('5');
  });

  it("copies the pod's labels and annotations, never letting a pod label override ours", () => {
    const cfg = gen(
      pod(
        {},
        {
          labels: { app: 'web', [LABEL_NODE]: 'other-node', [LABEL_POD_UID]: 'fake' },
          annotations: { 'example.com/note': 'hi' },
        },
      ),
    );
    expect(cfg.labels.app).toBe('web');
    expect(cfg.labels[LABEL_NODE]).toBe('node-1');
    expect(cfg.labels[LABEL_POD_UID]).toBe('uid-1');
    expect(cfg.annotations).toEqual({ 'example.com/note': 'hi' });
  });

  it('defaults the namespace to "default"', () => {
    const cfg = gen(pod({}, { namespace: undefined }));
    expect(cfg.metadata.namespace).toBe('default');
    expect(cfg.labels[LABEL_POD_NAMESPACE]).toBe('default');
  });

  it('passes the DNS config through', () => {
    const dns = { servers: ['10.96.0.10'], searches: ['shop.svc.cluster.local'], options: ['ndots:5'] };
    expect(gen(pod(), { dns }).dns).toEqual(dns);
  });

  describe('hostname', () => {
    it('is spec.hostname, else the pod name', () => {
      expect(gen(pod()).hostname).toBe('web');
      expect(gen(pod({ hostname: 'db-0' })).hostname).toBe('db-0');
      expect(gen(pod({ hostname: '' })).hostname).toBe('web');
    });

    it('is cut to 63 characters without a trailing - or .', () => {
      const name = `${'a'.repeat(61)}-.bcdef`;
      expect(gen(pod({}, { name })).hostname).toBe('a'.repeat(61));
      expect(podHostname(pod({}, { name: 'x'.repeat(100) }))).toBe('x'.repeat(63));
    });

    it("is empty for a host-network pod, which keeps the node's hostname", () => {
      expect(gen(pod({ hostNetwork: true, hostname: 'ignored' })).hostname).toBe('');
    });
  });

  describe('port mappings', () => {
    it('publishes every regular container port with a hostPort, defaulting to TCP', () => {
      const cfg = gen(
        pod({
          containers: [
            { name: 'a', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81 }, { containerPort: 82, hostPort: 0 }] },
            { name: 'b', ports: [{ containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' }] },
          ],
          initContainers: [{ name: 'init', ports: [{ containerPort: 9000, hostPort: 9000 }] }],
        }),
      );
      expect(cfg.portMappings).toEqual([
        { protocol: 'TCP', containerPort: 80, hostPort: 8080 },
        { protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' },
      ]);
    });
  });

  describe('namespaces', () => {
    it('gives each container its own PID namespace by default', () => {
      expect(gen(pod()).namespaces).toEqual({ network: 'POD', pid: 'CONTAINER', ipc: 'POD' });
    });

    it('shares the pod PID namespace with shareProcessNamespace', () => {
      expect(gen(pod({ shareProcessNamespace: true })).namespaces.pid).toBe('POD');
    });

    it("uses the node's namespaces for hostNetwork, hostPID and hostIPC", () => {
      expect(gen(pod({ hostNetwork: true, hostPID: true, hostIPC: true, shareProcessNamespace: true })).namespaces).toEqual({
        network: 'NODE',
        pid: 'NODE',
        ipc: 'NODE',
      });
    });
  });

  describe('sysctls', () => {
    it('come from the pod security context, slash names in dotted form', () => {
      const cfg = gen(
        pod({
          securityContext: {
            sysctls: [
              { name: 'net.ipv4.ip_unprivileged_port_start', value: '0' },
              { name: 'net/ipv4/conf/eth0.100/rp_filter', value: '1' },
            ],
          },
        }),
      );
      expect(cfg.sysctls).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.conf.eth0/100.rp_filter': '1' });
    });

    it('sysctlToDots leaves dotted names alone', () => {
      expect(sysctlToDots('kernel.shm_rmid_forced')).toBe('kernel.shm_rmid_forced');
      expect(sysctlToDots('net.ipv4.conf.eth0/100.rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter');
      expect(sysctlToDots('kernel/msgmax')).toBe('kernel.msgmax');
      expect(sysctlToDots('')).toBe('');
    });
  });
});
