// One worker per pod: the only place that changes the pod's containers. Syncs run
// one at a time per pod (a request during a sync runs one more sync afterwards), so
// a slow pod never holds up another and a pod never races with itself. What a sync
// does is in files beside it: sandbox-setup, container-start, termination-messages,
// status-publisher, pod-teardown, pod-from-labels.
import type { Pod, PodStatus } from '../api/types.js';
import { ANNOTATION_CONFIG_SOURCE } from '../api/pod-identity.js';
import { podKey } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { ImageManager } from '../images/image-manager.js';
import type { Logger } from '../log/logger.js';
import { isRuntimeError } from '../runtime/errors.js';
import { LABEL_CONTAINER_NAME } from '../runtime/labels.js';
import type { Runtime } from '../runtime/runtime.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Clock, Timer } from '../api/clock.js';
import type { Backoff } from '../api/backoff.js';
import { computePodActions } from './pod-actions.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { emptyRuntimePod, readRuntimePod, refreshRuntimePod, type RuntimePodSnapshot } from './runtime-pod.js';
import type { WaitingOverrides } from './types.js';
import type { NodeletConfiguration } from '../config/config.js';
import { probeKillGraceSeconds } from '../probes/probe-settings.js';
import type { ProbeManager } from '../probes/probe-manager.js';
import type { LifecycleHookRunner } from '../probes/lifecycle-hooks.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import { VolumeError, type MountedVolume } from '../volumes/types.js';
import { startContainer, type ContainerStartContext } from './container-start.js';
import { killPod, pruneDeadContainers, removePod, stopWithHooks, type ContainerToStop } from './pod-teardown.js';
import { startSandbox } from './sandbox-setup.js';
import { StatusPublisher } from './status-publisher.js';
import { TerminationMessages } from './termination-messages.js';

export interface PodWorkerDeps {
  runtime: Runtime;
  images: ImageManager;
  events: EventRecorder;
  store: PodStateStore;
  logger: Logger;
  clock: Clock;
  config: NodeletConfiguration;
  networkName: string;
  hostIP: () => string;
  hostFiles: { resolvConf: () => string; hosts: () => string };
  crashBackoff: Backoff;
  podSource: string;
  onStatus?: (pod: Pod, status: PodStatus) => void;
  onRemoved?: (uid: string) => void;
  /** Liveness, readiness and startup probes; without it every running container is ready. */
  probes?: ProbeManager;
  /** postStart and preStop hooks; without it hooks are not run. */
  hooks?: LifecycleHookRunner;
  /** Volumes and the ConfigMaps/Secrets the pod reads; without it no volume is mounted. */
  volumes?: VolumeManager;
}

const ERROR_RETRY_MIN_MS = 1_000;
const ERROR_RETRY_MAX_MS = 30_000;

type Termination = { gracePeriodSeconds: number; remove: boolean; reason: string };

export class PodWorker {
  private pod: Pod;
  private readonly statuses: StatusPublisher;
  private readonly waiting: WaitingOverrides = new Map();
  private readonly terminationMessages: TerminationMessages;
  private termination?: Termination;
  /** Set once the pod failed for good on the node (deadline exceeded, evicted): never restarted. */
  private failure?: { reason: string; message: string };
  /** The pod's volumes as set up by the last sync, for its containers' mounts. */
  private mountedVolumes = new Map<string, MountedVolume>();
  private lastMountError = '';
  private syncing = false;
  private pending = false;
  private wake?: Timer;
  private wakeAt = 0;
  private errorDelayMs = 0;
  private finished = false;
  private readonly log: Logger;
  /** What this sync created, so the re-read after acting needs no list call. */
  private created = { sandboxes: [] as string[], containers: [] as string[] };
  /** Set when the manager knows the runtime holds nothing for this pod yet. */
  private knownEmpty = false;
  private resolveDone!: () => void;
  /** Settles when a removed pod's containers, sandbox and directory are gone. */
  readonly done: Promise<void>;

  constructor(
    pod: Pod,
    private readonly deps: PodWorkerDeps,
    previousStatus?: PodStatus,
    options: { knownEmpty?: boolean } = {},
  ) {
    this.pod = pod;
    this.knownEmpty = options.knownEmpty ?? false;
    this.log = deps.logger.child({ pod: podKey(pod), uid: pod.metadata.uid });
    this.statuses = new StatusPublisher(this.uid, deps, this.log, previousStatus);
    this.terminationMessages = new TerminationMessages(deps.runtime, () => deps.store.podDir(this.uid));
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  get uid(): string {
    return this.pod.metadata.uid ?? '';
  }

  /** Where the pod came from (kubelet's config.source annotation): file for static pods, api otherwise. */
  private podSource(): string {
    return this.pod.metadata.annotations?.[ANNOTATION_CONFIG_SOURCE] ?? (this.deps.podSource || 'api');
  }
  get currentPod(): Pod {
    return this.pod;
  }
  get currentStatus(): PodStatus | undefined {
    return this.statuses.current;
  }
  get isTerminating(): boolean {
    return this.termination !== undefined;
  }

  update(pod: Pod): void {
    this.pod = pod;
    this.requestSync();
  }

  /** Stops the pod's containers; with remove, also deletes everything the pod left. */
  terminate(options: { gracePeriodSeconds?: number; remove: boolean; reason: string }): void {
    const grace = options.gracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    const prev = this.termination;
    // A later request may only shorten the grace period, never lengthen it.
    this.termination = {
      gracePeriodSeconds: prev ? Math.min(prev.gracePeriodSeconds, grace) : grace,
      remove: (prev?.remove ?? false) || options.remove,
      reason: options.reason,
    };
    this.requestSync();
  }

  requestSync(): void {
    if (this.finished) return;
    this.pending = true;
    if (!this.syncing && !this.held) this.running = this.loop();
  }

  /** The sync loop while one runs, so stopping can wait for its runtime calls to end. */
  private running?: Promise<void>;

  private held = false;

  /** Keeps the worker from syncing until release(), while its saved state is loaded. */
  hold(): void {
    this.held = true;
  }

  release(previousStatus?: PodStatus): void {
    this.statuses.restore(previousStatus);
    this.held = false;
    if (this.pending) this.requestSync();
  }

  /** Stops scheduling work without touching containers (agent shutdown). */
  stop(): void {
    this.finished = true;
    this.wake?.cancel();
  }

  /** Resolves once the sync in progress (if any) has ended; a stopped worker starts no other. */
  async settled(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    this.syncing = true;
    try {
      while (this.pending && !this.finished) {
        this.pending = false;
        this.wake?.cancel();
        this.wake = undefined;
        try {
          await this.sync();
          this.errorDelayMs = 0;
        } catch (err) {
          this.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, Math.max(ERROR_RETRY_MIN_MS, this.errorDelayMs * 2));
          const unavailable = isRuntimeError(err, 'RuntimeUnavailable');
          this.log[unavailable ? 'warn' : 'error']({ err }, `pod sync failed, retrying in ${this.errorDelayMs / 1000}s`);
          this.scheduleWake(this.errorDelayMs);
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  /** Asks for a sync after `ms`; of several requests during one sync the earliest wins. */
  private scheduleWake(ms: number): void {
    if (this.finished) return;
    const at = this.deps.clock.now() + Math.max(0, ms);
    if (this.wake && this.wakeAt <= at) return;
    this.wake?.cancel();
    this.wakeAt = at;
    this.wake = this.deps.clock.setTimeout(
      () => {
        this.wake = undefined;
        this.requestSync();
      },
      Math.max(0, ms),
    );
  }

  private async sync(): Promise<void> {
    const { runtime, config } = this.deps;
    let snap = this.knownEmpty ? emptyRuntimePod(this.uid) : await readRuntimePod(runtime, config.nodeName, this.uid);
    this.knownEmpty = false;
    this.created = { sandboxes: [], containers: [] };

    if (this.termination) {
      await this.killPod(snap, this.termination.gracePeriodSeconds, this.termination.reason);
      if (this.termination.remove) {
        await removePod(this.deps, this.uid);
        this.finished = true;
        this.deps.probes?.removePod(this.uid);
        this.log.info('pod removed');
        this.deps.onRemoved?.(this.uid);
        this.resolveDone();
        return;
      }
      snap = await readRuntimePod(runtime, config.nodeName, this.uid);
      await this.publishStatus(snap);
      return;
    }

    const deadlineMs = this.activeDeadlineRemainingMs();
    if (deadlineMs !== undefined && deadlineMs <= 0 && !this.failure) {
      this.failure = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
      this.deps.events.record(this.pod, 'Normal', 'DeadlineExceeded', this.failure.message);
    }

    if (this.failure || isTerminalPhase(this.statuses.current?.phase)) {
      // A terminal pod keeps its exited containers (for logs and status) but gives
      // back its sandbox and never starts anything again.
      await this.killPod(snap, this.pod.spec.terminationGracePeriodSeconds ?? 30, 'pod is terminal');
      snap = await readRuntimePod(runtime, config.nodeName, this.uid);
      await this.publishStatus(snap);
      return;
    }

    if (!(await this.setUpVolumes(snap))) {
      await this.publishStatus(snap);
      return;
    }
    const changed = await this.applyActions(snap);
    if (changed) snap = await refreshRuntimePod(runtime, snap, this.created);
    const status = await this.publishStatus(snap);
    if (isTerminalPhase(status.phase)) {
      this.requestSync(); // release the sandbox of a pod that just finished
      return;
    }
    await this.pruneDeadContainers(snap);
    this.scheduleNextWake(deadlineMs);
  }

  /**
   * Evicts the pod, on the eviction manager's word (an emptyDir over its sizeLimit):
   * its containers are stopped and it ends Failed with reason Evicted, as in kubelet.
   */
  evict(message: string): void {
    if (this.failure || this.termination || this.finished) return;
    this.failure = { reason: 'Evicted', message };
    this.log.warn({ reason: 'Evicted' }, message);
    this.deps.events.record(this.pod, 'Warning', 'Evicted', message);
    this.requestSync();
  }

  /**
   * Sets up the pod's volumes; false when one cannot be, in which case containers
   * not yet running wait (ContainerCreating with the mount error) and running ones
   * are left alone, and the sync is retried.
   */
  private async setUpVolumes(snap: RuntimePodSnapshot): Promise<boolean> {
    const volumes = this.deps.volumes;
    if (!volumes || (this.pod.spec.volumes ?? []).length === 0) return true;
    try {
      this.mountedVolumes = await volumes.setUpPod(this.pod);
      if (this.lastMountError) {
        this.lastMountError = '';
        for (const [name, w] of this.waiting) if (w.reason === 'ContainerCreating') this.waiting.delete(name);
      }
      return true;
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      const message = err.message;
      if (message !== this.lastMountError) {
        this.lastMountError = message;
        this.deps.events.record(this.pod, 'Warning', 'FailedMount', message);
        this.log.warn({ reason: 'FailedMount' }, message);
      }
      const running = new Set(snap.status.containers.filter((c) => c.state === 'running').map((c) => c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name));
      for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) {
        if (!running.has(c.name)) this.waiting.set(c.name, { reason: 'ContainerCreating', message });
      }
      this.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, Math.max(2_000, this.errorDelayMs * 2));
      this.scheduleWake(this.errorDelayMs);
      return false;
    }
  }

  private activeDeadlineRemainingMs(): number | undefined {
    const deadline = this.pod.spec.activeDeadlineSeconds;
    const start = this.statuses.current?.startTime;
    if (deadline === undefined || !start) return undefined;
    return Date.parse(start) + deadline * 1000 - this.deps.clock.now();
  }

  /** Executes one round of computePodActions; returns whether the runtime changed. */
  private async applyActions(snap: RuntimePodSnapshot): Promise<boolean> {
    const probes = this.deps.probes;
    const unhealthy = probes?.unhealthy(this.uid);
    const actions = computePodActions(this.pod, snap.status, probes ? { unhealthy, startupPending: probes.startupPending(this.uid) } : undefined);
    let changed = false;

    if (actions.killPod) {
      const why = actions.createSandbox ? 'pod sandbox changed, it will be killed and re-created' : 'pod sandbox is gone and nothing will restart';
      await this.killPod(snap, this.pod.spec.terminationGracePeriodSeconds ?? 30, why);
      changed = true;
    }
    let sandboxId = actions.sandboxId;
    let podIP = snap.status.sandboxes[0]?.ip ?? '';
    if (actions.createSandbox) {
      const created = await this.createSandbox(actions.sandboxAttempt);
      if (!created) return true;
      sandboxId = created.id;
      podIP = created.ip;
      changed = true;
    }
    if (!sandboxId) return changed;

    for (const kill of actions.containersToKill) {
      this.log.info({ container: kill.name }, kill.message);
      this.deps.events.record(this.pod, 'Normal', 'Killing', `Stopping container ${kill.name}: ${kill.message}`);
      const failedProbe = unhealthy?.get(kill.name);
      const spec = this.pod.spec.containers.find((c) => c.name === kill.name);
      const grace = failedProbe && spec ? probeKillGraceSeconds(this.pod, spec, failedProbe) : (this.pod.spec.terminationGracePeriodSeconds ?? 30);
      await this.stopContainer({ id: kill.id, name: kill.name, running: true }, grace, podIP);
      if (failedProbe) probes?.acknowledgeRestart(this.uid, kill.name);
      changed = true;
    }

    for (const start of actions.containersToStart) {
      const started = await startContainer(this.deps, this.startContext(), snap, sandboxId, podIP, start);
      changed = changed || started;
    }
    return changed;
  }

  private async createSandbox(attempt: number): Promise<{ id: string; ip: string } | undefined> {
    try {
      return await startSandbox(this.deps, {
        pod: this.pod,
        attempt,
        podSource: this.podSource(),
        log: this.log,
        onCreated: (id) => {
          this.created.sandboxes.push(id);
        },
      });
    } catch (err) {
      if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
      const message = `Failed to create pod sandbox: ${(err as Error).message}`;
      this.deps.events.record(this.pod, 'Warning', 'FailedCreatePodSandBox', message);
      this.log.warn({ err }, 'sandbox creation failed');
      this.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, Math.max(ERROR_RETRY_MIN_MS, this.errorDelayMs * 2));
      this.scheduleWake(this.errorDelayMs);
      return undefined;
    }
  }

  private startContext(): ContainerStartContext {
    return {
      pod: this.pod,
      uid: this.uid,
      podSource: this.podSource(),
      log: this.log,
      waiting: this.waiting,
      mountedVolumes: this.mountedVolumes,
      terminationMessages: this.terminationMessages,
      onCreated: (id) => {
        this.created.containers.push(id);
      },
      wakeIn: (ms) => this.scheduleWake(ms),
    };
  }

  /** Stops one container of this pod, preStop hook first (see stopWithHooks). */
  private stopContainer(c: ContainerToStop, gracePeriodSeconds: number, podIP: string): Promise<void> {
    return stopWithHooks(this.deps, this.pod, c, gracePeriodSeconds, podIP);
  }

  private killPod(snap: RuntimePodSnapshot, gracePeriodSeconds: number, reason: string): Promise<void> {
    return killPod(this.deps, this.pod, snap, gracePeriodSeconds, reason, this.log);
  }

  private async publishStatus(snap: RuntimePodSnapshot): Promise<PodStatus> {
    await this.terminationMessages.collect(this.pod, snap);
    // Waiting reasons belong to the current instance: a newer running one clears them.
    for (const c of snap.status.containers) {
      if (c.state === 'running') this.waiting.delete(c.metadata.name);
    }
    this.syncProbes(snap);
    return this.statuses.publish({
      pod: this.pod,
      snap,
      waiting: this.waiting,
      terminationMessages: this.terminationMessages.byContainerId,
      failure: this.failure,
    });
  }

  /** Probe workers follow the containers' current instances (a new ID restarts them). */
  private syncProbes(snap: RuntimePodSnapshot): void {
    const probes = this.deps.probes;
    if (!probes) return;
    const seen = new Set<string>();
    const containers = [];
    for (const c of snap.status.containers) {
      const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
      if (seen.has(name)) continue;
      seen.add(name);
      containers.push({ name, containerId: c.id, startedAt: c.startedAt, running: c.state === 'running' });
    }
    const ip = snap.status.sandboxes[0]?.ip || (this.pod.spec.hostNetwork ? this.deps.hostIP() : '');
    if (this.termination || isTerminalPhase(this.statuses.current?.phase)) probes.removePod(this.uid);
    else probes.syncPod(this.pod, { podIP: ip, containers });
  }

  /** Keeps the newest exited instance per container (for lastState and logs); removes older ones. */
  private async pruneDeadContainers(snap: RuntimePodSnapshot): Promise<void> {
    for (const id of await pruneDeadContainers(this.deps, snap, this.log)) this.terminationMessages.forget(id);
  }

  private scheduleNextWake(deadlineMs: number | undefined): void {
    let next = this.deps.config.syncFrequencyMs;
    if (deadlineMs !== undefined) next = Math.min(next, Math.max(0, deadlineMs) + 10);
    this.scheduleWake(next);
  }
}
