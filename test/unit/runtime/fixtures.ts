// Builders of CRI configs for the runtime's unit tests.
import type { ContainerConfig, PodSandboxConfig } from '../../../agent/runtime/runtime.js';
import { criContainerConfig } from '../../support/cri-configs.js';

export function sandboxConfig(overrides: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', attempt: 0 },
    hostname: 'web',
    portMappings: [],
    labels: { 'io.kubernetes.pod.name': 'web', app: 'web' },
    annotations: {},
    networkName: 'nodelet-node1',
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
    image: 'nodelet/pause:0.1.0',
    ...overrides,
  };
}

export function containerConfig(overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return criContainerConfig(overrides);
}
