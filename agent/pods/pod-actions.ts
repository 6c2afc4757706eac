// What one sync of a running pod must do: kubelet's computePodActions for a pod that
// is not being terminated (termination, and releasing a pod that reached a terminal
// phase, are the worker's job). Pure and free of time: back-off is applied by the
// worker when it starts a container, exactly where kubelet applies it.
//
// One deliberate difference from kubelet: kubelet cannot tell which sandbox an exited
// container belonged to, so after a sandbox is re-created it re-runs only the first
// init container. The runtime tells us (podSandboxId), so init progress is read from
// the current sandbox only and every init container runs again in a new sandbox, as
// the Kubernetes documentation promises.
import type { Container, Pod } from '../api/types.js';
import { LABEL_CONTAINER_HASH, LABEL_CONTAINER_NAME, LABEL_RESTART_COUNT } from '../runtime/labels.js';
import type { ContainerStatus, PodSandboxStatus } from '../runtime/runtime.js';
import { hashContainer } from './container-hash.js';
import { isSidecar, shouldContainerBeRestarted, shouldRestartOnFailure } from './restart-policy.js';
import type { ContainerToKill, ContainerToStart, PodActions, RuntimePodStatus } from './types.js';

export type ProbeFailure = 'liveness' | 'startup';

export interface PodActionOptions {
  /**
   * Running containers whose liveness or startup probe failed: killed, then started
   * again by the restart policy. A Map also names which probe, for the message.
   */
  unhealthy?: ReadonlySet<string> | ReadonlyMap<string, ProbeFailure>;
  /** Sidecars whose startup probe has not succeeded yet: the next init container waits for them. */
  startupPending?: ReadonlySet<string>;
}

/** Exit code reported for a container we are about to kill (SIGKILL), for restart decisions. */
const KILLED_EXIT_CODE = 137;

// ---------------------------------------------------------------------------
// Reading the runtime's instances.

/** The container name an instance belongs to (label first: it is what we wrote). */
export function instanceName(c: ContainerStatus): string {
  return c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
}

/** The restart count an instance carries: its label, else its CRI attempt. */
export function instanceRestartCount(c: ContainerStatus): number {
  const label = c.labels[LABEL_RESTART_COUNT];
  if (label !== undefined && /^\d+$/.test(label)) return Number(label);
  return c.metadata.attempt;
}

/** The exit code of an exited instance; one the engine could not report counts as a failure, never as success. */
export function instanceExitCode(c: ContainerStatus): number {
  return c.exitCode ?? 1;
}

/** Instances grouped by container name, each list newest first (the runtime's order is kept). */
export function groupInstances(containers: readonly ContainerStatus[]): Map<string, ContainerStatus[]> {
  const byName = new Map<string, ContainerStatus[]>();
  for (const c of containers) {
    const name = instanceName(c);
    const list = byName.get(name);
    if (list) list.push(c);
    else byName.set(name, [c]);
  }
  return byName;
}

/** True when the instance was created from a different spec than `container`. */
export function containerSpecChanged(container: Container, instance: ContainerStatus): boolean {
  const label = instance.labels[LABEL_CONTAINER_HASH];
  // No label: created by something that did not record one; never restart on a guess.
  return label !== undefined && label !== hashContainer(container);
}

/** A failed init container: non-zero exit, OOM-killed, or lost (kubelet's isInitContainerFailed). */
function initInstanceFailed(c: ContainerStatus): boolean {
  if (c.reason === 'OOMKilled') return true;
  if (c.state === 'exited') return instanceExitCode(c) !== 0;
  return c.state === 'unknown';
}

// ---------------------------------------------------------------------------
// The sandbox.

export interface SandboxDecision {
  /** A new sandbox is needed (none, not ready, no IP, wrong network mode, or several ready). */
  createNew: boolean;
  /** Why, for logs and events; empty when the current one is fine. */
  reason: string;
  /** Attempt number for the sandbox to use or create. */
  attempt: number;
  /** The newest sandbox, when it can be used as is. */
  current?: PodSandboxStatus;
}

/** kubelet's PodSandboxChanged: can the newest sandbox keep hosting the pod? */
export function podSandboxChanged(pod: Pod, sandboxes: readonly PodSandboxStatus[]): SandboxDecision {
  const newest = sandboxes[0];
  if (!newest) return { createNew: true, reason: 'no sandbox for the pod', attempt: 0 };
  const next = newest.metadata.attempt + 1;
  const hostNetwork = pod.spec.hostNetwork === true;
  if (sandboxes.filter((s) => s.state === 'ready').length > 1) {
    return { createNew: true, reason: 'several sandboxes of the pod are ready', attempt: next };
  }
  if (newest.state !== 'ready') return { createNew: true, reason: 'the pod sandbox is not ready', attempt: next };
  if (newest.hostNetwork !== hostNetwork) {
    return { createNew: true, reason: 'the pod sandbox network mode differs from spec.hostNetwork', attempt: next };
  }
  if (!hostNetwork && !newest.ip) return { createNew: true, reason: 'the pod sandbox has no IP address', attempt: next };
  return { createNew: false, reason: '', attempt: newest.metadata.attempt, current: newest };
}

// ---------------------------------------------------------------------------
// The decision.

class ActionList {
  readonly kills: ContainerToKill[] = [];
  readonly starts: ContainerToStart[] = [];
  private readonly killedIds = new Set<string>();
  private readonly startedNames = new Set<string>();

  constructor(private readonly byName: Map<string, ContainerStatus[]>) {}

  kill(instance: ContainerStatus, message: string): void {
    if (this.killedIds.has(instance.id)) return;
    this.killedIds.add(instance.id);
    this.kills.push({ id: instance.id, name: instanceName(instance), message });
  }

  start(container: Container, kind: ContainerToStart['kind']): void {
    if (this.startedNames.has(container.name)) return;
    this.startedNames.add(container.name);
    this.starts.push({ container, kind, attempt: nextAttempt(this.byName, container.name) });
  }
}

/** The restart count a new instance carries: one more than the newest one's. */
function nextAttempt(byName: Map<string, ContainerStatus[]>, name: string): number {
  const newest = byName.get(name)?.[0];
  return newest ? instanceRestartCount(newest) + 1 : 0;
}

function probeFailure(options: PodActionOptions, name: string): ProbeFailure | 'health' | undefined {
  const unhealthy = options.unhealthy;
  if (!unhealthy?.has(name)) return undefined;
  return unhealthy instanceof Map ? (unhealthy.get(name) ?? 'health') : 'health';
}

/** Whether a regular container would run in a fresh sandbox, judged by its newest instance. */
function startsInNewSandbox(container: Container, pod: Pod, newest: ContainerStatus | undefined): boolean {
  if (!newest || newest.state === 'created' || newest.state === 'unknown') return shouldContainerBeRestarted(container, pod, undefined);
  // A container still running in the old sandbox is about to be killed with it.
  const exitCode = newest.state === 'running' ? KILLED_EXIT_CODE : instanceExitCode(newest);
  return shouldContainerBeRestarted(container, pod, exitCode);
}

function hasLiveParts(runtime: RuntimePodStatus): boolean {
  return runtime.sandboxes.some((s) => s.state === 'ready') || runtime.containers.some((c) => c.state !== 'exited');
}

function newSandboxActions(pod: Pod, runtime: RuntimePodStatus, byName: Map<string, ContainerStatus[]>, attempt: number): PodActions {
  const actions = new ActionList(byName);
  const anything = runtime.sandboxes.length > 0 || runtime.containers.length > 0;
  const regular = pod.spec.containers.filter((c) => startsInNewSandbox(c, pod, byName.get(c.name)?.[0]));
  if (anything && regular.length === 0) {
    // Every app container has run and none may run again (Never, or OnFailure after
    // success): a new sandbox would host nothing. Stop what is left, keep the status.
    return {
      killPod: hasLiveParts(runtime),
      createSandbox: false,
      sandboxAttempt: attempt,
      containersToKill: [],
      containersToStart: [],
      initFailed: false,
    };
  }
  const firstInit = pod.spec.initContainers?.[0];
  if (firstInit) actions.start(firstInit, 'init');
  else for (const c of regular) actions.start(c, 'regular');
  return {
    killPod: anything,
    createSandbox: true,
    sandboxAttempt: attempt,
    containersToKill: [],
    containersToStart: actions.starts,
    initFailed: false,
  };
}

/**
 * Kills running instances that must not run: containers the spec does not name,
 * older instances of a container, and instances outside the current sandbox.
 */
function killStrays(pod: Pod, byName: Map<string, ContainerStatus[]>, sandboxId: string, actions: ActionList): void {
  const specNames = new Set([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name));
  for (const [name, instances] of byName) {
    instances.forEach((inst, index) => {
      if (inst.state !== 'running') return;
      if (!specNames.has(name)) actions.kill(inst, `Container ${name} is not in the pod spec`);
      else if (index > 0) actions.kill(inst, `Container ${name} has a newer instance, stopping the older one`);
      else if (inst.podSandboxId !== sandboxId) actions.kill(inst, `Container ${name} runs outside the pod's current sandbox`);
    });
  }
}

/**
 * Keeps one sidecar running (they restart whatever the pod's policy) and returns
 * whether it counts as started, which lets the next init container run.
 */
function keepSidecar(container: Container, inst: ContainerStatus | undefined, options: PodActionOptions, actions: ActionList): boolean {
  const name = container.name;
  if (!inst) {
    actions.start(container, 'init');
    return false;
  }
  switch (inst.state) {
    case 'running': {
      const started = !options.startupPending?.has(name);
      const probe = probeFailure(options, name);
      if (containerSpecChanged(container, inst)) {
        actions.kill(inst, `Init container ${name} definition changed, will be restarted`);
        actions.start(container, 'init');
      } else if (probe) {
        actions.kill(inst, `Init container ${name} failed ${probe} probe, will be restarted`);
        actions.start(container, 'init');
        return false;
      }
      return started;
    }
    case 'unknown':
      actions.kill(inst, `Init container ${name} is in "unknown" state, try killing it before restart`);
      actions.start(container, 'init');
      return false;
    case 'created':
    case 'exited':
      actions.start(container, 'init');
      return false;
  }
}

/** Init containers in the current sandbox; returns whether initialization is complete. */
function initContainerActions(
  pod: Pod,
  newestIn: (name: string) => ContainerStatus | undefined,
  initialized: boolean,
  options: PodActionOptions,
  actions: ActionList,
): { done: boolean; failed: boolean } {
  const inits = pod.spec.initContainers ?? [];
  if (inits.length === 0) return { done: true, failed: false };
  if (initialized) {
    // App containers ran here, so initialization finished: only sidecars need care.
    for (const c of inits) if (isSidecar(c)) keepSidecar(c, newestIn(c.name), options, actions);
    return { done: true, failed: false };
  }

  // The frontier is the last init container that has an instance in this sandbox:
  // everything before it completed (or, for sidecars, started).
  let frontier = -1;
  for (let i = inits.length - 1; i >= 0; i--) {
    if (newestIn(inits[i]!.name)) {
      frontier = i;
      break;
    }
  }
  if (frontier < 0) {
    actions.start(inits[0]!, 'init');
    return { done: false, failed: false };
  }
  for (const c of inits.slice(0, frontier)) if (isSidecar(c)) keepSidecar(c, newestIn(c.name), options, actions);

  const container = inits[frontier]!;
  const inst = newestIn(container.name)!;
  const isLast = frontier === inits.length - 1;
  const startNext = () => {
    if (isLast) return true;
    actions.start(inits[frontier + 1]!, 'init');
    return false;
  };

  if (isSidecar(container)) {
    return { done: keepSidecar(container, inst, options, actions) ? startNext() : false, failed: false };
  }
  if (inst.state === 'running') return { done: false, failed: false }; // wait for it to finish
  if (inst.state === 'created') {
    actions.start(container, 'init'); // its start failed; try a new one
    return { done: false, failed: false };
  }
  if (!initInstanceFailed(inst)) return { done: startNext(), failed: false };
  if (!shouldRestartOnFailure(pod)) return { done: false, failed: true };
  if (inst.state === 'unknown') {
    actions.kill(inst, `Init container ${container.name} is in "unknown" state, try killing it before restart`);
  }
  actions.start(container, 'init');
  return { done: false, failed: false };
}

/** Regular containers once initialization is complete; returns how many keep running. */
function regularContainerActions(pod: Pod, byName: Map<string, ContainerStatus[]>, sandboxId: string, options: PodActionOptions, actions: ActionList): number {
  let kept = 0;
  for (const container of pod.spec.containers) {
    const name = container.name;
    const newest = byName.get(name)?.[0];
    if (!newest) {
      actions.start(container, 'regular');
      continue;
    }
    if (newest.state === 'running' && newest.podSandboxId === sandboxId) {
      const probe = probeFailure(options, name);
      if (containerSpecChanged(container, newest)) {
        // A changed definition restarts whatever the restart policy says.
        actions.kill(newest, `Container ${name} definition changed, will be restarted`);
        actions.start(container, 'regular');
      } else if (probe) {
        const restart = shouldRestartOnFailure(pod);
        actions.kill(newest, `Container ${name} failed ${probe} probe${restart ? ', will be restarted' : ''}`);
        if (restart) actions.start(container, 'regular');
      } else {
        kept++;
      }
      continue;
    }
    // Created-but-never-started and unknown instances have no finished run to judge by;
    // one running outside the current sandbox is being killed by killStrays.
    const lastExitCode = newest.state === 'exited' ? instanceExitCode(newest) : newest.state === 'running' ? KILLED_EXIT_CODE : undefined;
    if (!shouldContainerBeRestarted(container, pod, lastExitCode)) continue;
    if (newest.state === 'unknown') {
      actions.kill(newest, `Container ${name} is in "unknown" state, try killing it before restart`);
    }
    actions.start(container, 'regular');
  }
  return kept;
}

/**
 * Compares the pod's spec with what the runtime holds and lists what to kill,
 * create and start. `runtime` lists are newest first (RuntimePodStatus's contract).
 */
export function computePodActions(pod: Pod, runtime: RuntimePodStatus, options: PodActionOptions = {}): PodActions {
  const byName = groupInstances(runtime.containers);
  const sandbox = podSandboxChanged(pod, runtime.sandboxes);
  if (sandbox.createNew || !sandbox.current) return newSandboxActions(pod, runtime, byName, sandbox.attempt);

  const sandboxId = sandbox.current.id;
  const actions = new ActionList(byName);
  const newestIn = (name: string) => byName.get(name)?.find((c) => c.podSandboxId === sandboxId);
  const result = (initFailed: boolean): PodActions => ({
    killPod: false,
    createSandbox: false,
    sandboxId,
    sandboxAttempt: sandbox.attempt,
    containersToKill: actions.kills,
    containersToStart: initFailed ? [] : actions.starts,
    initFailed,
  });

  killStrays(pod, byName, sandboxId, actions);

  // App containers only ever start in a sandbox once its initialization finished.
  const initialized = pod.spec.containers.some((c) => newestIn(c.name) !== undefined);
  const init = initContainerActions(pod, newestIn, initialized, options, actions);
  // A failed init container under Never makes the pod Failed; the worker then stops it.
  if (init.failed) return result(true);
  if (!init.done) return result(false);

  const sidecarStarts = actions.starts.length;
  const kept = regularContainerActions(pod, byName, sandboxId, options, actions);
  if (kept === 0 && actions.starts.length === sidecarStarts) {
    // Every app container is done for good: sidecars must not keep the pod alive
    // (a running sidecar would hold the phase at Running forever). kubelet kills the
    // pod here; stopping the sidecars lets the phase turn terminal, and the worker
    // then releases the sandbox.
    actions.starts.splice(0, sidecarStarts);
    for (const c of pod.spec.initContainers ?? []) {
      const inst = newestIn(c.name);
      if (isSidecar(c) && inst?.state === 'running') {
        actions.kill(inst, `Init container ${c.name} is a sidecar and every app container has finished`);
      }
    }
  }
  return result(false);
}
