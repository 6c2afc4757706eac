// PodSandboxConfig → Docker create options for the pause container, which holds the
// pod's network, IPC (and optionally PID) namespaces for the containers that join it.
// Pure. Never sets Ulimits: this host cannot raise rlimits above its own hard limits.
import type Docker from 'dockerode';
import { LABEL_TYPE, TYPE_SANDBOX } from '../labels.js';
import type { PodSandboxConfig, PortMapping } from '../runtime.js';
import { jsonFileLogConfig, noHealthcheck, noRestartPolicy } from './create-options-common.js';
import { mergeAnnotationsIntoLabels } from './docker-labels.js';
import { sandboxContainerName } from './names.js';

/** The pause container writes nothing; a small log keeps a misbehaving image in check. */
const SANDBOX_LOG_MAX_SIZE = '1Mi';
const SANDBOX_LOG_MAX_FILES = 1;

export type DockerCreateOptions = Docker.ContainerCreateOptions & { name: string };

/** Docker's port key: `80/tcp`. */
export function dockerPortKey(containerPort: number, protocol: string): string {
  return `${containerPort}/${protocol.toLowerCase()}`;
}

function portOptions(mappings: PortMapping[]): { exposed: Record<string, object>; bindings: Docker.PortMap } {
  const exposed: Record<string, object> = {};
  const bindings: Docker.PortMap = {};
  for (const m of mappings) {
    const key = dockerPortKey(m.containerPort, m.protocol);
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: m.hostIp ?? '', HostPort: String(m.hostPort) });
  }
  return { exposed, bindings };
}

export function sandboxCreateOptions(config: PodSandboxConfig): DockerCreateOptions {
  const hostNetwork = config.namespaces.network === 'NODE';
  const hostConfig: Docker.HostConfig = {
    // A host-network pod also shares the node's UTS namespace (its hostname), as in kubelet.
    NetworkMode: hostNetwork ? 'host' : config.networkName,
    // Only a "shareable" IPC namespace can be joined by the pod's containers.
    IpcMode: config.namespaces.ipc === 'NODE' ? 'host' : 'shareable',
    RestartPolicy: noRestartPolicy(),
    LogConfig: jsonFileLogConfig(SANDBOX_LOG_MAX_SIZE, SANDBOX_LOG_MAX_FILES),
  };
  if (hostNetwork) hostConfig.UTSMode = 'host';
  if (config.namespaces.pid === 'NODE') hostConfig.PidMode = 'host';
  if (config.sysctls && Object.keys(config.sysctls).length > 0) hostConfig.Sysctls = { ...config.sysctls };

  const options: DockerCreateOptions = {
    name: sandboxContainerName(config.metadata),
    Image: config.image,
    Labels: { ...mergeAnnotationsIntoLabels(config.labels, config.annotations), [LABEL_TYPE]: TYPE_SANDBOX },
    Healthcheck: noHealthcheck(),
    HostConfig: hostConfig,
  };
  // With host networking Docker discards published ports and keeps the node's hostname.
  if (!hostNetwork) {
    if (config.hostname) options.Hostname = config.hostname;
    if (config.portMappings.length > 0) {
      const { exposed, bindings } = portOptions(config.portMappings);
      options.ExposedPorts = exposed;
      hostConfig.PortBindings = bindings;
    }
  }
  return options;
}
