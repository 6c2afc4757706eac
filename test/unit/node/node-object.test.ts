import { describe, expect, it } from 'vitest';
import { VERSION } from '../../../agent/api/version.js';
import { nodeConditions } from '../../../agent/node/node-conditions.js';
import { buildNode, runtimeVersionString } from '../../../agent/node/node-object.js';
import { defaultNodeRegistrationOptions, type NodeRegistrationOptions } from '../../../agent/node/node-registration-options.js';
import { FACTS } from './fixtures.js';

const NOW = new Date('2026-01-01T00:00:00.000Z');
const HEALTHY = nodeConditions({}, undefined, NOW);

function build(options: Partial<NodeRegistrationOptions> = {}, port = 0) {
  return buildNode({
    config: { nodeName: 'node-a', maxPods: 110, port },
    options: { ...defaultNodeRegistrationOptions(), ...options },
    facts: FACTS,
    runtimeVersion: 'docker://20.10.24',
    conditions: HEALTHY,
  });
}

describe('buildNode', () => {
  it('names the Node and sets the well-known labels', () => {
    const node = build();
    expect(node.apiVersion).toBe('v1');
    expect(node.kind).toBe('Node');
    expect(node.metadata.name).toBe('node-a');
    expect(node.metadata.labels).toEqual({
      'kubernetes.io/hostname': 'worker-1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': 'amd64',
    });
  });

  it('adds configured labels, which override defaults as in kubelet', () => {
    const node = build({ nodeLabels: { 'node-role.kubernetes.io/worker': '', 'kubernetes.io/hostname': 'custom' } });
    expect(node.metadata.labels?.['node-role.kubernetes.io/worker']).toBe('');
    expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe('custom');
  });

  it('sets registerWithTaints and leaves podCIDR alone', () => {
    const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const };
    const node = build({ registerWithTaints: [taint] });
    expect(node.spec?.taints).toEqual([taint]);
    expect(node.spec).not.toHaveProperty('podCIDR');
    expect(build().spec).toEqual({});
  });

  it('reports capacity from the facts and maxPods', () => {
    expect(build().status?.capacity).toEqual({
      cpu: '4',
      memory: `${8 * 1024 * 1024}Ki`,
      'ephemeral-storage': `${100 * 1024 * 1024}Ki`,
      pods: '110',
    });
  });

  it('takes reservations and hard eviction thresholds out of allocatable', () => {
    const node = build({ systemReserved: { cpu: '100m', memory: '1Gi' }, kubeReserved: { cpu: '0.2', memory: '512Mi', 'ephemeral-storage': '1Gi' } });
    const memKi = 8 * 1024 * 1024 - 1024 * 1024 - 512 * 1024 - 100 * 1024;
    const storageKi = 100 * 1024 * 1024 - 1024 * 1024 - 10 * 1024 * 1024;
    expect(node.status?.allocatable).toEqual({ cpu: '3700m', memory: `${memKi}Ki`, 'ephemeral-storage': `${storageKi}Ki`, pods: '110' });
  });

  it('never reports a negative allocatable', () => {
    const node = build({ systemReserved: { cpu: '8', memory: '64Gi' } });
    expect(node.status?.allocatable?.cpu).toBe('0');
    expect(node.status?.allocatable?.memory).toBe('0Ki');
  });

  it('reports addresses, nodeInfo and the kubelet endpoint', () => {
    const node = build();
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '192.168.10.5' },
      { type: 'Hostname', address: 'worker-1' },
    ]);
    expect(node.status?.nodeInfo).toEqual({
      machineID: FACTS.machineID,
      systemUUID: FACTS.systemUUID,
      bootID: FACTS.bootID,
      kernelVersion: FACTS.kernelVersion,
      osImage: FACTS.osImage,
      containerRuntimeVersion: 'docker://20.10.24',
      kubeletVersion: `nodelet/v${VERSION}`,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: 'amd64',
    });
    expect(node.status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(build({}, 10255).status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10255 } });
  });

  it('carries the given conditions', () => {
    expect(build().status?.conditions).toBe(HEALTHY);
  });
});

describe('runtimeVersionString', () => {
  it('is <name>://<version>', () => {
    expect(runtimeVersionString({ runtimeName: 'docker', runtimeVersion: '20.10.24' })).toBe('docker://20.10.24');
  });
});
