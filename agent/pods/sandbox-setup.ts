// Starting a pod's sandbox: its DNS configuration, the sandbox container (which
// holds the pod's network and IPC namespaces), and the managed hosts file that
// needs the pod IP — so the sandbox comes first and app containers bind the file.
import { writeFile } from 'node:fs/promises';
import type { Pod } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { Logger } from '../log/logger.js';
import { buildPodDNS } from '../network/dns-config.js';
import { buildHostNetworkHostsFile, buildHostsFile } from '../network/hosts-file.js';
import type { Runtime } from '../runtime/runtime.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import { joinInside } from '../util/safe-path.js';
import { generateSandboxConfig, podHostname } from './sandbox-config.js';

export interface SandboxSetupDeps {
  runtime: Pick<Runtime, 'runPodSandbox' | 'podSandboxStatus'>;
  store: Pick<PodStateStore, 'podDir' | 'ensurePodDir'>;
  events: EventRecorder;
  config: NodeletConfiguration;
  networkName: string;
  hostIP: () => string;
  hostFiles: { resolvConf: () => string; hosts: () => string };
}

export interface SandboxRequest {
  pod: Pod;
  attempt: number;
  podSource: string;
  log: Logger;
  /** Called with the sandbox's ID as soon as it exists, even if a later step fails. */
  onCreated: (id: string) => void;
}

/** Where the pod's managed hosts file lives (bind-mounted into every container). */
export function hostsFilePath(store: Pick<PodStateStore, 'podDir'>, uid: string): string {
  return joinInside(store.podDir(uid), 'etc-hosts');
}

/** Starts the pod's sandbox and writes its hosts file; resolves to the sandbox ID and the pod IP. */
export async function startSandbox(deps: SandboxSetupDeps, request: SandboxRequest): Promise<{ id: string; ip: string }> {
  const { runtime, config } = deps;
  const { pod, attempt, podSource, log } = request;
  const uid = pod.metadata.uid ?? '';
  const { dns, warnings } = buildPodDNS(pod, {
    clusterDNS: config.clusterDNS,
    clusterDomain: config.clusterDomain,
    hostResolvConf: deps.hostFiles.resolvConf(),
  });
  for (const w of warnings) deps.events.record(pod, 'Warning', 'DNSConfigForming', w);
  const sandboxConfig = generateSandboxConfig({
    pod,
    attempt,
    nodeName: config.nodeName,
    podSource,
    networkName: deps.networkName,
    image: config.podInfraImage,
    dns,
  });
  await deps.store.ensurePodDir(uid);
  const id = await runtime.runPodSandbox(sandboxConfig);
  request.onCreated(id);
  const status = await runtime.podSandboxStatus(id);
  const ip = pod.spec.hostNetwork ? deps.hostIP() : status.ip;
  await writeHostsFile(deps, pod, ip);
  log.info({ sandbox: id.slice(0, 12), ip }, 'sandbox started');
  return { id, ip };
}

async function writeHostsFile(deps: SandboxSetupDeps, pod: Pod, podIP: string): Promise<void> {
  const spec = pod.spec;
  const content = spec.hostNetwork
    ? buildHostNetworkHostsFile(deps.hostFiles.hosts(), spec.hostAliases)
    : buildHostsFile({
        podIP,
        hostname: podHostname(pod),
        subdomain: spec.subdomain,
        namespace: pod.metadata.namespace ?? 'default',
        clusterDomain: deps.config.clusterDomain,
        hostAliases: spec.hostAliases,
      });
  await writeFile(hostsFilePath(deps.store, pod.metadata.uid ?? ''), content, { mode: 0o644 });
}
