// Builds the node's pod list for the CLI from the runtime (what exists) and the
// agent's state directory (the pod objects and the status the agent last computed),
// so it answers whether or not the agent is running.
import type { Pod } from '../api/types.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, nodeSelectorLabels } from '../runtime/labels.js';
import type { Runtime } from '../runtime/runtime.js';
import { PodStateStore } from '../state/pod-state-store.js';
import type { RejectedManifest } from '../sources/types.js';

export interface PodListing {
  pods: Pod[];
  rejected: RejectedManifest[];
  runtimeError?: string;
}

export async function listNodePods(runtime: Runtime, nodeName: string, rootDir: string): Promise<PodListing> {
  const store = new PodStateStore(rootDir);
  const uids = new Set(store.listPodUIDsSync());
  const fromRuntime = new Map<string, Record<string, string>>();
  let runtimeError: string | undefined;
  try {
    for (const s of await runtime.listPodSandboxes({ labels: nodeSelectorLabels(nodeName) })) {
      const uid = s.labels[LABEL_POD_UID];
      if (uid) {
        uids.add(uid);
        fromRuntime.set(uid, s.labels);
      }
    }
  } catch (err) {
    runtimeError = (err as Error).message;
  }
  const pods: Pod[] = [];
  for (const uid of uids) {
    let pod: Pod | undefined;
    try {
      pod = store.loadPodSync(uid);
    } catch {
      pod = undefined;
    }
    if (!pod) {
      const labels = fromRuntime.get(uid) ?? {};
      pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: labels[LABEL_POD_NAME], namespace: labels[LABEL_POD_NAMESPACE], uid },
        spec: { containers: [] },
        status: { phase: 'Unknown', message: 'no state recorded by the agent for this pod' },
      };
    }
    pods.push({ apiVersion: 'v1', kind: 'Pod', ...pod });
  }
  pods.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  return { pods, rejected: store.loadRejectedSync(), runtimeError };
}

/** kubectl's STATUS column: the most telling container reason, else the phase. */
export function podDisplayStatus(pod: Pod): string {
  const st = pod.status;
  if (!st) return 'Pending';
  if (st.reason) return st.reason;
  for (const c of st.initContainerStatuses ?? []) {
    if (c.state.terminated && c.state.terminated.exitCode === 0) continue;
    if (c.state.terminated) return `Init:${c.state.terminated.reason ?? 'Error'}`;
    if (c.state.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') return `Init:${c.state.waiting.reason}`;
    const done = (st.initContainerStatuses ?? []).filter((x) => x.state.terminated?.exitCode === 0).length;
    return `Init:${done}/${pod.spec.initContainers?.length ?? 0}`;
  }
  let reason: string = st.phase ?? 'Pending';
  for (const c of st.containerStatuses ?? []) {
    if (c.state.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state.terminated?.reason) reason = c.state.terminated.reason;
  }
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  return reason;
}

export function readyCount(pod: Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  return `${statuses.filter((c) => c.ready).length}/${pod.spec.containers.length}`;
}

export function restartCount(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
}
