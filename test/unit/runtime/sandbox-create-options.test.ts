import { describe, expect, it } from 'vitest';
import { sandboxCreateOptions } from '../../../agent/runtime/docker/sandbox-create-options.js';
import { ANNOTATION_LABEL_PREFIX } from '../../../agent/runtime/docker/docker-labels.js';
import { sandboxConfig } from './fixtures.js';

describe('sandboxCreateOptions', () => {
  it('makes a pause container on the pod network with a shareable IPC namespace', () => {
    const o = sandboxCreateOptions(sandboxConfig());
    expect(o.name).toBe('k8s_POD_web_default_uid-1_0');
    expect(o.Image).toBe('nodelet/pause:0.1.0');
    expect(o.Hostname).toBe('web');
    expect(o.Labels).toEqual({ 'io.kubernetes.pod.name': 'web', app: 'web', 'io.kubernetes.docker.type': 'podsandbox' });
    expect(o.HostConfig?.NetworkMode).toBe('nodelet-node1');
    expect(o.HostConfig?.IpcMode).toBe('shareable');
    expect(o.HostConfig?.PidMode).toBeUndefined();
    expect(o.HostConfig?.RestartPolicy).toEqual({ Name: 'no' });
    expect(o.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(o.HostConfig?.LogConfig?.Type).toBe('json-file');
    expect(o.HostConfig?.LogConfig?.Config).toHaveProperty('max-size');
    expect(o.HostConfig?.Ulimits).toBeUndefined();
    expect(o.ExposedPorts).toBeUndefined();
  });

  it('uses the node namespaces for hostNetwork, hostIPC and hostPID, without a hostname', () => {
    const o = sandboxCreateOptions(
      sandboxConfig({
        hostname: '',
        namespaces: { network: 'NODE', pid: 'NODE', ipc: 'NODE' },
        portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: 8080 }],
      }),
    );
    expect(o.HostConfig?.NetworkMode).toBe('host');
    expect(o.HostConfig?.UTSMode).toBe('host');
    expect(o.HostConfig?.IpcMode).toBe('host');
    expect(o.HostConfig?.PidMode).toBe('host');
    expect(o.Hostname).toBeUndefined();
    expect(o.HostConfig?.PortBindings).toBeUndefined();
  });

  it('does not set a hostname for host network even when one is given', () => {
    expect(sandboxCreateOptions(sandboxConfig({ namespaces: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } })).Hostname).toBeUndefined();
  });

  it('publishes host ports per protocol, honouring hostIp', () => {
    const o = sandboxCreateOptions(
      sandboxConfig({
        portMappings: [
          { protocol: 'TCP', containerPort: 80, hostPort: 8080 },
          { protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' },
          { protocol: 'TCP', containerPort: 80, hostPort: 8081, hostIp: '10.0.0.1' },
        ],
      }),
    );
    expect(o.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(o.HostConfig?.PortBindings).toEqual({
      '80/tcp': [
        { HostIp: '', HostPort: '8080' },
        { HostIp: '10.0.0.1', HostPort: '8081' },
      ],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    });
  });

  it('passes sysctls and keeps annotations as prefixed labels', () => {
    const o = sandboxCreateOptions(
      sandboxConfig({
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
        annotations: { 'kubernetes.io/config.source': 'file' },
      }),
    );
    expect(o.HostConfig?.Sysctls).toEqual({ 'net.ipv4.ip_unprivileged_port_start': '0' });
    expect(o.Labels?.[`${ANNOTATION_LABEL_PREFIX}kubernetes.io/config.source`]).toBe('file');
  });

  it('does not let a pod label override the type label', () => {
    const o = sandboxCreateOptions(sandboxConfig({ labels: { 'io.kubernetes.docker.type': 'container' } }));
    expect(o.Labels?.['io.kubernetes.docker.type']).toBe('podsandbox');
  });
});
