// Reads what the runtime holds for one pod: its sandboxes and containers, newest
// first. Only the two newest instances of each container are inspected (current
// state and lastState); older ones are only candidates for pruning.
import type { ContainerStatus, ContainerSummary, PodSandboxStatus, PodSandboxSummary, Runtime } from '../runtime/runtime.js';
import { LABEL_CONTAINER_NAME, LABEL_POD_UID, LABEL_RESTART_COUNT, nodeSelectorLabels } from '../runtime/labels.js';
import { isRuntimeError } from '../runtime/errors.js';
import type { RuntimePodStatus } from './types.js';

export interface RuntimePodSnapshot {
  status: RuntimePodStatus;
  allSandboxes: PodSandboxSummary[];
  allContainers: ContainerSummary[];
}

function attemptOf(labels: Record<string, string>, fallback: number): number {
  const n = Number(labels[LABEL_RESTART_COUNT]);
  return Number.isInteger(n) ? n : fallback;
}

/** Newest first: by creation time, then by attempt (same-second creations). */
export function newestFirst<T extends { createdAt: Date; labels: Record<string, string>; metadata: { attempt: number } }>(items: T[]): T[] {
  return [...items].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || attemptOf(b.labels, b.metadata.attempt) - attemptOf(a.labels, a.metadata.attempt),
  );
}

async function inspectOrSkip<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isRuntimeError(err, 'NotFound')) return undefined; // removed between list and inspect
    throw err;
  }
}

export async function readRuntimePod(runtime: Runtime, nodeName: string, uid: string): Promise<RuntimePodSnapshot> {
  const labels = { ...nodeSelectorLabels(nodeName), [LABEL_POD_UID]: uid };
  const [sandboxList, containerList] = await Promise.all([runtime.listPodSandboxes({ labels }), runtime.listContainers({ labels })]);
  const allSandboxes = newestFirst(sandboxList);
  const allContainers = newestFirst(containerList);

  const toInspect: ContainerSummary[] = [];
  const seen = new Map<string, number>();
  for (const c of allContainers) {
    const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
    const n = seen.get(name) ?? 0;
    if (n < 2) toInspect.push(c);
    seen.set(name, n + 1);
  }
  const [sandboxes, containers] = await Promise.all([
    Promise.all(allSandboxes.slice(0, 2).map((s) => inspectOrSkip(() => runtime.podSandboxStatus(s.id)))),
    Promise.all(toInspect.map((c) => inspectOrSkip(() => runtime.containerStatus(c.id)))),
  ]);
  return {
    status: {
      uid,
      sandboxes: sandboxes.filter((s): s is PodSandboxStatus => s !== undefined),
      containers: newestFirst(containers.filter((c): c is ContainerStatus => c !== undefined)),
    },
    allSandboxes,
    allContainers,
  };
}

/**
 * Re-reads a pod after its worker acted, by inspecting what the last snapshot held
 * plus what the worker just created — no list calls, which cost the engine a walk
 * over every container on the node.
 */
export async function refreshRuntimePod(
  runtime: Runtime,
  previous: RuntimePodSnapshot,
  created: { sandboxes: string[]; containers: string[] },
): Promise<RuntimePodSnapshot> {
  const sandboxIds = [...new Set([...created.sandboxes, ...previous.allSandboxes.map((s) => s.id)])];
  const containerIds = [...new Set([...created.containers, ...previous.allContainers.map((c) => c.id)])];
  const [sandboxes, containers] = await Promise.all([
    Promise.all(sandboxIds.map((id) => inspectOrSkip(() => runtime.podSandboxStatus(id)))),
    Promise.all(containerIds.map((id) => inspectOrSkip(() => runtime.containerStatus(id)))),
  ]);
  const allSandboxes = newestFirst(sandboxes.filter((s): s is PodSandboxStatus => s !== undefined));
  const allContainers = newestFirst(containers.filter((c): c is ContainerStatus => c !== undefined));
  const seen = new Map<string, number>();
  const current = allContainers.filter((c) => {
    const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    return n < 2;
  });
  return { status: { uid: previous.status.uid, sandboxes: allSandboxes.slice(0, 2), containers: current }, allSandboxes, allContainers };
}

/** The snapshot of a pod the runtime is known to hold nothing for. */
export function emptyRuntimePod(uid: string): RuntimePodSnapshot {
  return { status: { uid, sandboxes: [], containers: [] }, allSandboxes: [], allContainers: [] };
}
