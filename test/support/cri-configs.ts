// One builder of CRI container configs for tests: every field the Runtime needs,
// with neutral values, so a test spells out only what it is about.
import type { ContainerConfig } from '../../agent/runtime/runtime.js';

export function criContainerConfig(overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name: 'app', attempt: 1 },
    image: 'sha256:abc',
    envs: [],
    mounts: [],
    labels: { 'io.kubernetes.container.name': overrides.metadata?.name ?? 'app' },
    annotations: {},
    stdin: false,
    stdinOnce: false,
    tty: false,
    resources: {},
    securityContext: { namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    ...overrides,
  };
}
