// Joined mode: the pieces that connect the agent to an apiserver — the node
// controller, the apiserver pod source, the status manager, mirror pods and API
// events — built from one kubeconfig and handed to the agent as hooks.
import type { NodeletConfiguration } from './config/config.js';
import type { Pod, PodStatus } from './api/types.js';
import { ApiEventRecorder } from './events/api-event-recorder.js';
import type { EventRecorder } from './events/event-recorder.js';
import { KubeClient } from './kube/client.js';
import type { Logger } from './log/logger.js';
import { NodeController } from './node/node-controller.js';
import type { NodeHealthCheck } from './node/node-health-probe.js';
import { nodeFacts } from './node/node-facts.js';
import type { Taint } from './node/node-types.js';
import { validateNodeRegistrationOptions } from './node/node-registration-options.js';
import { admitPod, type AdmissionResult } from './pods/admission.js';
import { parseCPUToMilli, parseMemoryToBytes } from './api/quantity.js';
import type { Runtime } from './runtime/runtime.js';
import { ApiserverPodSource } from './sources/apiserver-pod-source.js';
import type { PodSource, PodSourceUpdate } from './sources/types.js';
import { MirrorPodManager } from './status/mirror-pods.js';
import { isMirrorPod, isStaticPod } from './api/pod-identity.js';
import { StatusManager } from './status/status-manager.js';

export interface ClusterConnection {
  client: KubeClient;
  node: NodeController;
  podSource: PodSource;
  events: EventRecorder;
  /** Node's spec.podCIDR if the controller manager set one by registration time. */
  podCIDR?: string;
  onStatus(pod: Pod, status: PodStatus): void;
  onPodRemoved(pod: Pod): void;
  admit(pod: Pod, admitted: Pod[]): AdmissionResult;
  /** Called with every merged snapshot: mirror pods follow static pods. */
  onSnapshot(update: PodSourceUpdate): void;
  stop(): Promise<void>;
}

const POD_CIDR_WAIT_MS = 5_000;

function quantity(value: string | undefined, parse: (q: string) => number, fallback: number): number {
  try {
    return value === undefined ? fallback : parse(value);
  } catch {
    return fallback;
  }
}

/** `healthChecks`: more reasons for the Node's Ready condition to be False (the PLEG's health). */
export async function connectCluster(
  config: NodeletConfiguration,
  runtime: Runtime,
  logger: Logger,
  logEvents: EventRecorder,
  healthChecks: NodeHealthCheck[] = [],
): Promise<ClusterConnection> {
  const kubeconfig = config.kubeconfig!;
  const client = await KubeClient.fromKubeconfig(kubeconfig, { qps: config.kubeAPIQPS, burst: config.kubeAPIBurst, logger });
  logger.info({ server: client.server, node: config.nodeName }, 'joining the cluster');

  const options = {
    nodeLabels: config.nodeLabels,
    registerWithTaints: config.registerWithTaints as Taint[],
    systemReserved: config.systemReserved,
    kubeReserved: config.kubeReserved,
  };
  validateNodeRegistrationOptions(options);
  // --node-name plays kubelet's --hostname-override: it is the hostname label and address too.
  const facts = { ...(await nodeFacts(config.rootDir)), hostname: config.nodeName };
  const node = new NodeController({
    client,
    config,
    runtime,
    logger,
    options,
    facts,
    healthChecks,
    statusUpdateFrequencyMs: config.nodeStatusUpdateFrequencyMs,
    statusReportFrequencyMs: config.nodeStatusReportFrequencyMs,
    leaseDurationSeconds: config.nodeLeaseDurationSeconds,
    leaseRenewIntervalMs: (config.nodeLeaseDurationSeconds * 1000) / 4,
  });
  node.start();
  // The pod network's subnet comes from Node.spec.podCIDR when the cluster assigns one.
  const registered = await Promise.race([node.whenRegistered(), new Promise<undefined>((r) => setTimeout(r, POD_CIDR_WAIT_MS))]);
  const podCIDR = registered?.spec?.podCIDR;
  node.onPodCIDR((cidr) => {
    if (cidr !== (podCIDR ?? config.podCIDR)) {
      logger.warn({ podCIDR: cidr }, 'Node.spec.podCIDR changed; restart the agent (with no pods on the node) to use it');
    }
  });

  const apiSource = new ApiserverPodSource({ client, nodeName: config.nodeName, logger });
  const status = new StatusManager({ client, logger, pods: apiSource });
  status.start();
  const events = new ApiEventRecorder({ client, nodeName: config.nodeName, logger, next: logEvents, pods: apiSource });
  const mirrors = new MirrorPodManager({ client, nodeName: config.nodeName, logger });
  let staticPods: Pod[] = [];
  const syncMirrors = () => void mirrors.sync(staticPods, apiSource.mirrorPods());
  apiSource.onPodChange((pod) => {
    if (isMirrorPod(pod)) syncMirrors();
  });

  return {
    client,
    node,
    podSource: apiSource,
    events,
    podCIDR,
    onStatus: (pod, s) => status.setPodStatus(pod, s),
    onPodRemoved: (pod) => status.podDeleted(pod),
    admit(pod, admitted) {
      const n = node.node();
      const alloc = n?.status?.allocatable ?? {};
      return admitPod(pod, {
        nodeName: config.nodeName,
        nodeLabels: n?.metadata?.labels ?? {},
        allocatable: {
          cpuMilli: quantity(alloc.cpu, parseCPUToMilli, Number.MAX_SAFE_INTEGER),
          memoryBytes: quantity(alloc.memory, parseMemoryToBytes, Number.MAX_SAFE_INTEGER),
          pods: quantity(alloc.pods, Number, config.maxPods),
        },
        admittedPods: admitted,
        taints: n?.spec?.taints,
      });
    },
    onSnapshot(update) {
      staticPods = update.pods.filter((p) => isStaticPod(p));
      syncMirrors();
      status.removeOrphanedStatuses(new Set(update.pods.map((p) => p.metadata.uid ?? '')));
    },
    async stop() {
      await apiSource.stop();
      await mirrors.stop();
      await events.stop();
      await status.stop();
      await node.stop();
      client.close();
    },
  };
}
