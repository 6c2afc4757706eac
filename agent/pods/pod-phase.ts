// The pod phase from its container statuses: kubelet's getPhase (for a pod that is
// not being terminated, without the ContainerRestartRules feature).
import type { ContainerStatus, Pod, PodPhase } from '../api/types.js';
import { isSidecar, podRestartPolicy } from './restart-policy.js';

/** A regular container ran at some point: the pod got past initialization. */
function anyRegularContainerStarted(pod: Pod, statuses: readonly ContainerStatus[]): boolean {
  const names = new Set(pod.spec.containers.map((c) => c.name));
  return statuses.some((s) => names.has(s.name) && (s.state.running !== undefined || s.state.terminated !== undefined));
}

/**
 * `podHasInitialized` says whether an app container runs (or ran) in the pod's
 * current sandbox; when unknown it is inferred from the statuses. It keeps a pod
 * whose sidecar is restarting from falling back to Pending.
 */
export function computePodPhase(
  pod: Pod,
  initStatuses: readonly ContainerStatus[],
  containerStatuses: readonly ContainerStatus[],
  podHasInitialized?: boolean,
): PodPhase {
  const statusOf = (name: string, list: readonly ContainerStatus[]) => list.find((s) => s.name === name);
  const initialized = podHasInitialized ?? anyRegularContainerStarted(pod, containerStatuses);
  const restartPolicy = podRestartPolicy(pod);

  let pendingInit = 0;
  let pendingSidecars = 0;
  let failedInit = 0;
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;

  for (const c of pod.spec.initContainers ?? []) {
    if (isSidecar(c)) continue;
    const s = statusOf(c.name, initStatuses);
    if (!s || s.state.running) {
      pendingInit++;
    } else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state.waiting) {
      const last = s.lastState.terminated;
      if (!last) pendingInit++;
      else if (last.exitCode !== 0) failedInit++;
    } else {
      pendingInit++;
    }
  }

  // Sidecars count like app containers while running; once stopped they do not count.
  for (const c of pod.spec.initContainers ?? []) {
    if (!isSidecar(c)) continue;
    const s = statusOf(c.name, initStatuses);
    if (!s) {
      unknown++;
    } else if (s.state.running) {
      if (s.started !== true) pendingSidecars++;
      running++;
    } else if (s.state.terminated) {
      // not counted
    } else if (s.state.waiting) {
      if (!s.lastState.terminated) {
        pendingSidecars++;
        waiting++;
      }
    } else {
      pendingSidecars++;
      unknown++;
    }
  }

  for (const c of pod.spec.containers) {
    const s = statusOf(c.name, containerStatuses);
    if (!s) {
      unknown++;
    } else if (s.state.running) {
      running++;
    } else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) stopped++;
      else waiting++;
    } else {
      unknown++;
    }
  }

  if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || (pendingSidecars > 0 && !initialized) || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (restartPolicy === 'Always') return 'Running'; // all are being restarted
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running'; // OnFailure: the failed ones are being restarted
  }
  return 'Pending';
}
