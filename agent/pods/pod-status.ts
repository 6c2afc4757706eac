// The API status of a pod, as kubelet generates it (generateAPIPodStatus,
// convertToAPIContainerStatuses, status/generate.go): container statuses from the
// runtime's two newest instances per container, the phase, the conditions, IPs and
// QoS class. Pure: time and probe results come in as inputs.
import type { Container, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodPhase, PodStatus, Quantity } from '../api/types.js';
import type { ContainerStatus as RuntimeContainerStatus } from '../runtime/runtime.js';
import { groupInstances, instanceExitCode, instanceRestartCount, podSandboxChanged } from './pod-actions.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { computePodPhase } from './pod-phase.js';
import { parseCPUToMilli, parseMemoryToBytes } from '../api/quantity.js';
import { formatTime } from '../api/time.js';
import { isSidecar, shouldContainerBeRestarted } from './restart-policy.js';
import type { RuntimePodStatus, WaitingOverrides } from './types.js';

export interface PodStatusInput {
  pod: Pod;
  runtime: RuntimePodStatus;
  /** The status this node computed last (or the API's), for start time, transitions and a terminal phase. */
  previous?: PodStatus;
  /** Why containers wait (CrashLoopBackOff, ErrImagePull…), by container name. */
  waiting: WaitingOverrides;
  /** Readiness probe results by container name; absent means ready while running. */
  readiness?: Map<string, boolean>;
  /** Startup probe results by container name; absent means started while running. */
  started?: Map<string, boolean>;
  hostIP: string;
  now: Date;
  /** Termination messages read from the containers' message files, by container ID. */
  terminationMessages?: Map<string, string>;
  /** The runtime's Runtime.runtimeType: the scheme of the containerIDs (`docker://<id>`). */
  runtimeType: string;
}

const CONTAINER_CREATING = 'ContainerCreating';
const POD_INITIALIZING = 'PodInitializing';
const POD_COMPLETED = 'PodCompleted';

/** Condition types kubelet owns; any other condition on the pod belongs to someone else and is kept. */
const KUBELET_CONDITIONS = new Set([
  'PodScheduled',
  'Ready',
  'Initialized',
  'ContainersReady',
  'PodReadyToStartContainers',
  'PodResizePending',
  'PodResizeInProgress',
]);

// ---------------------------------------------------------------------------
// Container statuses.

interface StatusContext {
  pod: Pod;
  byName: Map<string, RuntimeContainerStatus[]>;
  previous: Map<string, ContainerStatus>;
  waiting: WaitingOverrides;
  readiness: Map<string, boolean>;
  started: Map<string, boolean>;
  terminationMessages: Map<string, string>;
  anyRegularCreated: boolean;
  /** `<runtimeType>://`, the prefix of every containerID. */
  containerIdPrefix: string;
}

function terminatedState(inst: RuntimeContainerStatus, ctx: StatusContext): ContainerStateTerminated {
  const exitCode = instanceExitCode(inst);
  // kubelet appends what the application wrote to its termination message file.
  const message = [inst.message, ctx.terminationMessages.get(inst.id)].filter((m) => m).join(': ');
  return {
    exitCode,
    reason: inst.reason || (exitCode === 0 ? 'Completed' : 'Error'),
    ...(message ? { message } : {}),
    ...(inst.startedAt ? { startedAt: formatTime(inst.startedAt) } : {}),
    ...(inst.finishedAt ? { finishedAt: formatTime(inst.finishedAt) } : {}),
    containerID: ctx.containerIdPrefix + inst.id,
  };
}

/** Whether the next sync would start a new instance, which is when a waiting reason applies. */
function willStartAgain(container: Container, kind: 'init' | 'regular', newest: RuntimeContainerStatus | undefined, pod: Pod): boolean {
  if (!newest || newest.state === 'created' || newest.state === 'unknown') return shouldContainerBeRestarted(container, pod, undefined);
  if (newest.state === 'running') return false;
  const exitCode = instanceExitCode(newest);
  if (kind === 'init' && !isSidecar(container) && exitCode === 0) return false; // done for good
  return shouldContainerBeRestarted(container, pod, exitCode);
}

function buildContainerStatus(container: Container, kind: 'init' | 'regular', defaultReason: string, ctx: StatusContext): ContainerStatus {
  const name = container.name;
  const [newest, prior] = ctx.byName.get(name) ?? [];
  const old = ctx.previous.get(name);
  let status: ContainerStatus = {
    name,
    state: { waiting: { reason: defaultReason } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: container.image ?? '',
    imageID: '',
    started: false,
  };

  if (!newest) {
    // Nothing in the runtime (never created, or removed): keep what we knew.
    if (old?.state.terminated) status = { ...old, ready: false, started: false };
    else if (old) status = { ...status, restartCount: old.restartCount, lastState: old.lastState };
    if (kind === 'init' && !isSidecar(container) && ctx.anyRegularCreated && status.state.waiting) {
      // App containers exist, so this init container completed; its record is gone.
      status.state = {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          message: 'Unable to get init container status from container runtime and pod has been initialized, treat it as exited normally',
        },
      };
    }
  } else {
    status.containerID = ctx.containerIdPrefix + newest.id;
    status.imageID = newest.imageRef;
    status.restartCount = instanceRestartCount(newest);
    if (prior?.state === 'exited') status.lastState = { terminated: terminatedState(prior, ctx) };
    switch (newest.state) {
      case 'running':
        status.state = { running: newest.startedAt ? { startedAt: formatTime(newest.startedAt) } : {} };
        break;
      case 'exited':
        status.state = { terminated: terminatedState(newest, ctx) };
        break;
      case 'unknown':
        if (old?.state.running) {
          // It ran and we lost it: it stopped, it did not "never run" (kubelet's rule).
          status.state = {
            terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' },
          };
          status.restartCount = old.restartCount + 1;
        }
        break;
      case 'created':
        break; // waiting with the default reason
    }
  }

  const override = ctx.waiting.get(name);
  if (override && willStartAgain(container, kind, newest, ctx.pod)) {
    // What kubectl shows for a crash loop: waiting now, the exit as the last state.
    if (status.state.terminated) status.lastState = { terminated: status.state.terminated };
    status.state = { waiting: { ...(override.reason ? { reason: override.reason } : {}), ...(override.message ? { message: override.message } : {}) } };
  }

  const running = status.state.running !== undefined;
  const started = running && (ctx.started.get(name) ?? true);
  status.started = started;
  if (kind === 'init' && !isSidecar(container)) {
    status.ready = status.state.terminated?.exitCode === 0;
  } else {
    status.ready = started && (ctx.readiness.get(name) ?? true);
  }
  return status;
}

/** Regular init containers completed and sidecars started (kubelet's isInitContainerInitialized). */
function initContainerInitialized(container: Container, status: ContainerStatus): boolean {
  return isSidecar(container) ? status.started === true : status.ready;
}

// ---------------------------------------------------------------------------
// Conditions.

function bracketList(names: string[]): string {
  return `[${names.join(' ')}]`;
}

type ConditionCore = Pick<PodCondition, 'type' | 'status' | 'reason' | 'message'>;

function initializedCondition(pod: Pod, initStatuses: ContainerStatus[], regularStarted: boolean, phase: PodPhase): ConditionCore {
  if (phase === 'Succeeded') return { type: 'Initialized', status: 'True', reason: POD_COMPLETED };
  if (regularStarted) return { type: 'Initialized', status: 'True' };
  const incomplete = (pod.spec.initContainers ?? [])
    .filter((c) => {
      const s = initStatuses.find((x) => x.name === c.name);
      return !s || !initContainerInitialized(c, s);
    })
    .map((c) => c.name);
  if (incomplete.length === 0) return { type: 'Initialized', status: 'True' };
  return {
    type: 'Initialized',
    status: 'False',
    reason: 'ContainersNotInitialized',
    message: `containers with incomplete status: ${bracketList(incomplete)}`,
  };
}

function containersReadyCondition(pod: Pod, statuses: ContainerStatus[], phase: PodPhase): ConditionCore {
  if (isTerminalPhase(phase)) return { type: 'ContainersReady', status: 'False', reason: POD_COMPLETED };
  const relevant = [...(pod.spec.initContainers ?? []).filter(isSidecar), ...pod.spec.containers];
  const unready = relevant.filter((c) => statuses.find((s) => s.name === c.name)?.ready !== true).map((c) => c.name);
  if (unready.length === 0) return { type: 'ContainersReady', status: 'True' };
  return {
    type: 'ContainersReady',
    status: 'False',
    reason: 'ContainersNotReady',
    message: `containers with unready status: ${bracketList(unready)}`,
  };
}

function readyCondition(pod: Pod, containersReady: ConditionCore, otherConditions: PodCondition[]): ConditionCore {
  if (containersReady.status !== 'True') {
    return { type: 'Ready', status: containersReady.status, reason: containersReady.reason, message: containersReady.message };
  }
  const problems: string[] = [];
  for (const gate of pod.spec.readinessGates ?? []) {
    const c = otherConditions.find((x) => x.type === gate.conditionType);
    if (!c) problems.push(`corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`);
    else if (c.status !== 'True') problems.push(`the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`);
  }
  if (problems.length > 0) return { type: 'Ready', status: 'False', reason: 'ReadinessGatesNotReady', message: problems.join(', ') };
  return { type: 'Ready', status: 'True' };
}

/** Keeps the previous transition time while a condition's status stays the same. */
function stamp(core: ConditionCore, previous: PodCondition[] | undefined, now: string): PodCondition {
  const before = previous?.find((c) => c.type === core.type);
  const lastTransitionTime = before && before.status === core.status && before.lastTransitionTime ? before.lastTransitionTime : now;
  return {
    type: core.type,
    status: core.status,
    lastProbeTime: null,
    lastTransitionTime,
    ...(core.reason ? { reason: core.reason } : {}),
    ...(core.message ? { message: core.message } : {}),
  };
}

// ---------------------------------------------------------------------------
// QoS class.

type QOSClass = NonNullable<PodStatus['qosClass']>;

function positiveAmount(resource: 'cpu' | 'memory', q: Quantity | undefined): number | undefined {
  if (q === undefined || q === null) return undefined;
  try {
    const v = resource === 'cpu' ? parseCPUToMilli(q) : parseMemoryToBytes(q);
    return v > 0 ? v : undefined;
  } catch {
    return undefined; // validation rejects bad quantities before a pod gets here
  }
}

/**
 * Guaranteed when every container limits both cpu and memory and the pod's summed
 * requests equal its summed limits; BestEffort when nothing requests or limits
 * either; Burstable otherwise (Kubernetes' GetPodQOS, cpu and memory only). A missing
 * request counts as its limit, as the apiserver defaults it.
 */
export function computeQOSClass(pod: Pod): QOSClass {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    let limited = 0;
    for (const resource of ['cpu', 'memory'] as const) {
      const limit = positiveAmount(resource, c.resources?.limits?.[resource]);
      const request = positiveAmount(resource, c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
      if (request !== undefined) requests.set(resource, (requests.get(resource) ?? 0) + request);
      if (limit !== undefined) {
        limits.set(resource, (limits.get(resource) ?? 0) + limit);
        limited++;
      }
    }
    if (limited < 2) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  for (const [resource, request] of requests) {
    if (limits.get(resource) !== request) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

// ---------------------------------------------------------------------------
// The pod status.

export function computePodStatus(input: PodStatusInput): PodStatus {
  const { pod, runtime, hostIP } = input;
  const prior = input.previous ?? pod.status;
  const now = formatTime(input.now);
  const byName = groupInstances(runtime.containers);
  const inits = pod.spec.initContainers ?? [];

  // kubelet's "active" containers are those of the newest sandbox.
  const newestSandbox = runtime.sandboxes[0];
  const regularInNewestSandbox =
    newestSandbox !== undefined && pod.spec.containers.some((c) => byName.get(c.name)?.some((i) => i.podSandboxId === newestSandbox.id));

  const ctx: StatusContext = {
    pod,
    byName,
    previous: new Map([...(prior?.initContainerStatuses ?? []), ...(prior?.containerStatuses ?? [])].map((s) => [s.name, s])),
    waiting: input.waiting,
    readiness: input.readiness ?? new Map(),
    started: input.started ?? new Map(),
    terminationMessages: input.terminationMessages ?? new Map(),
    anyRegularCreated: pod.spec.containers.some((c) => (byName.get(c.name)?.length ?? 0) > 0),
    containerIdPrefix: `${input.runtimeType}://`,
  };

  const initStatuses = inits.map((c) => buildContainerStatus(c, 'init', POD_INITIALIZING, ctx));
  const initDone = regularInNewestSandbox || inits.every((c, i) => initContainerInitialized(c, initStatuses[i]!));
  const containerStatuses = pod.spec.containers.map((c) => buildContainerStatus(c, 'regular', initDone ? CONTAINER_CREATING : POD_INITIALIZING, ctx));

  let phase = computePodPhase(pod, initStatuses, containerStatuses, regularInNewestSandbox);
  // Pods never leave a terminal phase.
  for (const before of [input.previous?.phase, pod.status?.phase]) {
    if (!isTerminalPhase(phase) && isTerminalPhase(before)) phase = before;
  }

  const allStatuses = [...initStatuses, ...containerStatuses];
  const regularStarted = containerStatuses.some((s) => s.state.running !== undefined || s.state.terminated !== undefined);
  const others = (pod.status?.conditions ?? input.previous?.conditions ?? []).filter((c) => !KUBELET_CONDITIONS.has(c.type));
  const sandbox = podSandboxChanged(pod, runtime.sandboxes);
  const containersReady = containersReadyCondition(pod, allStatuses, phase);
  const conditions: PodCondition[] = [
    ...others,
    ...[
      { type: 'PodReadyToStartContainers', status: sandbox.createNew ? 'False' : 'True' } as ConditionCore,
      initializedCondition(pod, initStatuses, regularStarted, phase),
      readyCondition(pod, containersReady, others),
      containersReady,
      { type: 'PodScheduled', status: 'True' } as ConditionCore,
    ].map((c) => stamp(c, prior?.conditions, now)),
  ];

  const status: PodStatus = { phase, conditions };
  // kubelet keeps the reason and message that came with the phase (Evicted, DeadlineExceeded…).
  if (prior && prior.phase === phase) {
    if (prior.reason) status.reason = prior.reason;
    if (prior.message) status.message = prior.message;
  }
  if (hostIP) {
    status.hostIP = hostIP;
    status.hostIPs = [{ ip: hostIP }];
  }
  const podIP = pod.spec.hostNetwork === true ? hostIP : newestSandbox?.state === 'ready' ? (newestSandbox.hostNetwork ? hostIP : newestSandbox.ip) : '';
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  status.startTime = prior?.startTime ?? now;
  if (inits.length > 0) status.initContainerStatuses = initStatuses;
  status.containerStatuses = containerStatuses;
  status.qosClass = computeQOSClass(pod);
  return status;
}
