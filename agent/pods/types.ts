// Shapes shared by the pod logic: what the runtime says about one pod, what the
// pure decision function asks for, and what the worker remembers between syncs.
import type { Container, ContainerStateWaiting } from '../api/types.js';
import type { ContainerStatus, PodSandboxStatus } from '../runtime/runtime.js';

/** Everything the runtime holds for one pod UID, newest first in each list. */
export interface RuntimePodStatus {
  uid: string;
  sandboxes: PodSandboxStatus[];
  /** Every container of the pod, all attempts (exited ones too), newest first. */
  containers: ContainerStatus[];
}

export interface ContainerToKill {
  id: string;
  name: string;
  /** Why, for the log and the Killing event ("container spec changed", "pod deleted"…). */
  message: string;
}

export interface ContainerToStart {
  container: Container;
  kind: 'init' | 'regular';
  /** Attempt number for the new container = restartCount it will carry. */
  attempt: number;
}

/** What one sync of a pod must do, computed without side effects (kubelet's computePodActions). */
export interface PodActions {
  /** Stop every container and the sandbox (sandbox gone, changed, or pod terminal). */
  killPod: boolean;
  createSandbox: boolean;
  /** Existing ready sandbox to reuse when createSandbox is false. */
  sandboxId?: string;
  /** Attempt number for a new sandbox. */
  sandboxAttempt: number;
  containersToKill: ContainerToKill[];
  containersToStart: ContainerToStart[];
  /** Containers whose restart is held back by policy (for status only). */
  initFailed: boolean;
}

/** Why a container is waiting, remembered from the last sync that touched it. */
export type WaitingOverrides = Map<string, ContainerStateWaiting>;
