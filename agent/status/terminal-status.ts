// The last status of a pod whose deletion the node finishes: kubelet's
// TerminatePod and the terminal part of mergePodStatus. Before the final DELETE
// the apiserver must see a terminal phase; a container that never reported an
// end is recorded as terminated with an unknown outcome, so nobody reads a
// success that did not happen.
import type { ContainerStatus, Pod, PodCondition, PodStatus } from '../api/types.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { isMirrorPod } from '../api/pod-identity.js';

const UNKNOWN_TERMINATION = {
  exitCode: 137,
  reason: 'ContainerStatusUnknown',
  message: 'The container could not be located when the pod was terminated',
};

function terminated(statuses: ContainerStatus[] | undefined, only: (s: ContainerStatus) => boolean): ContainerStatus[] | undefined {
  return statuses?.map((s) => (s.state.terminated || !only(s) ? s : { ...s, ready: false, state: { terminated: { ...UNKNOWN_TERMINATION } } }));
}

/** Started at some point: running now, or terminated before. */
function everStarted(s: ContainerStatus): boolean {
  return s.state.waiting === undefined || s.lastState.terminated !== undefined;
}

function notReady(c: PodCondition): PodCondition {
  if ((c.type !== 'Ready' && c.type !== 'ContainersReady') || c.status === 'False') return c;
  const { message: _message, ...rest } = c;
  return { ...rest, status: 'False', reason: 'PodCompleted' };
}

/**
 * `status` made final: a non-terminal phase becomes Failed; regular containers
 * without a terminated state (and init containers that had started) become
 * terminated with exit code 137 and reason ContainerStatusUnknown; Ready and
 * ContainersReady turn False.
 */
export function terminalStatus(pod: Pod, status: PodStatus): PodStatus {
  const out: PodStatus = structuredClone(status);
  const initialized = (pod.spec.initContainers ?? []).length === 0 || (status.containerStatuses ?? []).some(everStarted);
  if (initialized) {
    const regular = terminated(out.containerStatuses, () => true);
    if (regular) out.containerStatuses = regular;
  }
  const init = terminated(out.initContainerStatuses, (s) => s.state.running !== undefined);
  if (init) out.initContainerStatuses = init;
  if (!isTerminalPhase(out.phase)) out.phase = 'Failed';
  if (out.conditions) out.conditions = out.conditions.map(notReady);
  return out;
}

/**
 * The final DELETE may go out: deletion was asked for (deletionTimestamp), the
 * apiserver already records a terminal phase, and the node says the pod's
 * containers, sandbox and volumes are gone. Mirror pods are never finished this way.
 */
export function canBeDeleted(apiPod: Pod, podIsFinished: boolean): boolean {
  return apiPod.metadata.deletionTimestamp !== undefined && !isMirrorPod(apiPod) && isTerminalPhase(apiPod.status?.phase) && podIsFinished;
}
