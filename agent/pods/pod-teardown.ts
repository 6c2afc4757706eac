// Stopping and removing what a pod runs: containers stop with their preStop hooks
// inside the grace period, sandboxes after them; a removed pod loses its containers,
// sandboxes, volumes and directory, in that order; exited instances beyond the few
// kept for lastState and logs are pruned.
import type { Pod } from '../api/types.js';
import type { NodeletConfiguration } from '../config/config.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { Logger } from '../log/logger.js';
import type { LifecycleHookRunner } from '../probes/lifecycle-hooks.js';
import { LABEL_CONTAINER_NAME } from '../runtime/labels.js';
import type { Runtime } from '../runtime/runtime.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import { containerFromLabels } from './pod-from-labels.js';
import { readRuntimePod, type RuntimePodSnapshot } from './runtime-pod.js';

/** kubelet never gives a container less than this to stop, even for grace 0. */
const MINIMUM_GRACE_SECONDS = 2;

export interface PodTeardownDeps {
  runtime: Runtime;
  events: EventRecorder;
  store: Pick<PodStateStore, 'removePodDir'>;
  config: Pick<NodeletConfiguration, 'nodeName' | 'maxDeadContainersPerContainer'>;
  hooks?: Pick<LifecycleHookRunner, 'runPreStop'>;
  volumes?: Pick<VolumeManager, 'tearDownPod'>;
}

/** The stop timeout for a grace period: never under the minimum. */
export function graceFor(seconds: number): number {
  return Math.max(MINIMUM_GRACE_SECONDS, seconds);
}

/** One container to stop: its spec comes from the pod, or from its labels for an orphan. */
export interface ContainerToStop {
  id: string;
  name: string;
  running: boolean;
  labels?: Record<string, string>;
}

/**
 * Stops one container: its preStop hook first, whose time is taken out of the
 * grace period (at least 2 s remain for SIGTERM), then the stop signal.
 */
export async function stopWithHooks(deps: PodTeardownDeps, pod: Pod, c: ContainerToStop, gracePeriodSeconds: number, podIP: string): Promise<void> {
  let grace = graceFor(gracePeriodSeconds);
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const spec = all.find((s) => s.name === c.name) ?? (c.labels ? containerFromLabels(c.name, c.labels) : undefined);
  if (c.running && spec?.lifecycle?.preStop && deps.hooks) {
    grace = await deps.hooks.runPreStop(pod, spec, c.id, podIP, gracePeriodSeconds);
  }
  await deps.runtime.stopContainer(c.id, grace);
}

/** Stops every running container of the pod (in parallel, with grace), then its sandboxes. */
export async function killPod(
  deps: PodTeardownDeps,
  pod: Pod,
  snap: RuntimePodSnapshot,
  gracePeriodSeconds: number,
  reason: string,
  log: Logger,
): Promise<void> {
  const running = snap.allContainers.filter((c) => c.state === 'running' || c.state === 'created');
  await Promise.all(
    running.map(async (c) => {
      const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
      if (c.state === 'running') {
        deps.events.record(pod, 'Normal', 'Killing', `Stopping container ${name}`);
        log.info({ container: name, grace: gracePeriodSeconds, reason }, 'stopping container');
      }
      const target = { id: c.id, name, running: c.state === 'running', labels: c.labels };
      await stopWithHooks(deps, pod, target, gracePeriodSeconds, snap.status.sandboxes[0]?.ip ?? '');
    }),
  );
  await Promise.all(snap.allSandboxes.filter((s) => s.state === 'ready').map((s) => deps.runtime.stopPodSandbox(s.id)));
}

/** Removes every container and sandbox of the pod, then its volumes and directory. */
export async function removePod(deps: PodTeardownDeps, uid: string): Promise<void> {
  const { runtime, config } = deps;
  const snap = await readRuntimePod(runtime, config.nodeName, uid);
  await Promise.all(snap.allContainers.map((c) => runtime.removeContainer(c.id)));
  await Promise.all(snap.allSandboxes.map((s) => runtime.removePodSandbox(s.id)));
  // Volumes go only once no container can use them; a tmpfs is unmounted before removal.
  await deps.volumes?.tearDownPod(uid);
  await deps.store.removePodDir(uid);
}

/**
 * Keeps the newest exited instances per container (for lastState and logs) and
 * removes older ones, and sandboxes nothing uses; resolves to the IDs removed.
 */
export async function pruneDeadContainers(deps: PodTeardownDeps, snap: RuntimePodSnapshot, log: Logger): Promise<string[]> {
  const keep = deps.config.maxDeadContainersPerContainer;
  const deadSeen = new Map<string, number>();
  const doomed: string[] = [];
  for (const c of snap.allContainers) {
    if (c.state !== 'exited') continue;
    const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
    const n = (deadSeen.get(name) ?? 0) + 1;
    deadSeen.set(name, n);
    if (n > keep) doomed.push(c.id);
  }
  const liveSandbox = snap.allSandboxes[0];
  for (const s of snap.allSandboxes) {
    if (s !== liveSandbox && s.state === 'notready' && !snap.allContainers.some((c) => c.podSandboxId === s.id)) doomed.push(s.id);
  }
  const removed: string[] = [];
  for (const id of doomed) {
    try {
      await deps.runtime.removeContainer(id);
      removed.push(id);
    } catch (err) {
      log.debug({ err }, 'pruning an exited container failed');
    }
  }
  return removed;
}
