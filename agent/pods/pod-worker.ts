// One worker per pod: the only place that changes the pod's containers. Syncs run
// one at a time per pod (a request during a sync runs one more sync afterwards), so
// a slow pod never holds up another and a pod never races with itself.
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import type { Container, Pod, PodStatus } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import { ImageError, type ImageManager } from '../images/image-manager.js';
import type { Logger } from '../log/logger.js';
import { buildPodDNS } from '../network/dns-config.js';
import { buildHostNetworkHostsFile, buildHostsFile } from '../network/hosts-file.js';
import { isRuntimeError } from '../runtime/errors.js';
import { LABEL_CONTAINER_NAME, LABEL_CONTAINER_PORTS, LABEL_PRESTOP_HANDLER, LABEL_TERMINATION_GRACE } from '../runtime/labels.js';
import type { ContainerStatus, Mount, Runtime } from '../runtime/runtime.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Clock, Timer } from '../api/clock.js';
import { joinInside, safeSegment } from '../util/safe-path.js';
import { Backoff } from '../api/backoff.js';
import { backoffKey } from './crash-backoff-key.js';
import { hashContainer } from './container-hash.js';
import { generateContainerConfig } from './container-config.js';
import { CreateContainerConfigError } from '../api/pod-errors.js';
import { computePodActions } from './pod-actions.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { computePodStatus } from './pod-status.js';
import { generateSandboxConfig, podHostname } from './sandbox-config.js';
import { emptyRuntimePod, readRuntimePod, refreshRuntimePod, type RuntimePodSnapshot } from './runtime-pod.js';
import type { WaitingOverrides } from './types.js';
import type { NodeletConfiguration } from '../config/config.js';
import { probeKillGraceSeconds } from '../probes/probe-settings.js';
import type { ProbeManager } from '../probes/probe-manager.js';
import type { LifecycleHookRunner } from '../probes/lifecycle-hooks.js';
import type { VolumeManager } from '../volumes/volume-manager.js';
import { VolumeError, type MountedVolume } from '../volumes/types.js';
import { NO_OBJECTS } from '../volumes/api-object-source.js';
import { loadEnvObjects, type EnvObjects } from './env-objects.js';
import { makeEnvironment } from './container-config.js';

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

/** kubelet never gives a container less than this to stop, even for grace 0. */
const MINIMUM_GRACE_SECONDS = 2;
const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const FALLBACK_LOG_LINES = 80;
const ERROR_RETRY_MIN_MS = 1_000;
const ERROR_RETRY_MAX_MS = 30_000;

type Termination = { gracePeriodSeconds: number; remove: boolean; reason: string };

export class PodWorker {
  private pod: Pod;
  private status?: PodStatus;
  private lastSavedStatus = '';
  private lastProbeResults = '';
  private readonly waiting: WaitingOverrides = new Map();
  private readonly terminationMessages = new Map<string, string>();
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

  constructor(pod: Pod, private readonly deps: PodWorkerDeps, previousStatus?: PodStatus, options: { knownEmpty?: boolean } = {}) {
    this.pod = pod;
    this.knownEmpty = options.knownEmpty ?? false;
    this.status = previousStatus;
    this.log = deps.logger.child({ pod: podKey(pod), uid: pod.metadata.uid });
    this.done = new Promise((r) => { this.resolveDone = r; });
  }

  get uid(): string { return this.pod.metadata.uid ?? ''; }

  /** Where the pod came from (kubelet's config.source annotation): file for static pods, api otherwise. */
  private podSource(): string {
    return this.pod.metadata.annotations?.['kubernetes.io/config.source'] ?? (this.deps.podSource || 'api');
  }
  get currentPod(): Pod { return this.pod; }
  get currentStatus(): PodStatus | undefined { return this.status; }
  get isTerminating(): boolean { return this.termination !== undefined; }

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
  hold(): void { this.held = true; }

  release(previousStatus?: PodStatus): void {
    if (previousStatus && !this.status) this.status = previousStatus;
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
    this.wake = this.deps.clock.setTimeout(() => {
      this.wake = undefined;
      this.requestSync();
    }, Math.max(0, ms));
  }

  private async sync(): Promise<void> {
    const { runtime, config } = this.deps;
    let snap = this.knownEmpty ? emptyRuntimePod(this.uid) : await readRuntimePod(runtime, config.nodeName, this.uid);
    this.knownEmpty = false;
    this.created = { sandboxes: [], containers: [] };

    if (this.termination) {
      await this.killPod(snap, this.termination.gracePeriodSeconds, this.termination.reason);
      if (this.termination.remove) {
        await this.removeAll();
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

    if (this.failure || isTerminalPhase(this.status?.phase)) {
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
   * Evicts the pod (an emptyDir over its sizeLimit): its containers are stopped and
   * it ends Failed with reason Evicted, as kubelet's eviction manager does.
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
    const start = this.status?.startTime;
    if (deadline === undefined || !start) return undefined;
    return Date.parse(start) + deadline * 1000 - this.deps.clock.now();
  }

  /** Executes one round of computePodActions; returns whether the runtime changed. */
  private async applyActions(snap: RuntimePodSnapshot): Promise<boolean> {
    const { runtime } = this.deps;
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
      const grace = failedProbe && spec ? probeKillGraceSeconds(this.pod, spec, failedProbe) : this.pod.spec.terminationGracePeriodSeconds ?? 30;
      await this.stopWithHooks(kill.id, kill.name, true, grace, podIP);
      if (failedProbe) probes?.acknowledgeRestart(this.uid, kill.name);
      changed = true;
    }

    for (const start of actions.containersToStart) {
      const started = await this.startContainer(snap, sandboxId, podIP, start.container, start.kind, start.attempt);
      changed = changed || started;
    }
    return changed;
  }

  private async createSandbox(attempt: number): Promise<{ id: string; ip: string } | undefined> {
    const { runtime, config } = this.deps;
    const pod = this.pod;
    const { dns, warnings } = buildPodDNS(pod, {
      clusterDNS: config.clusterDNS,
      clusterDomain: config.clusterDomain,
      hostResolvConf: this.deps.hostFiles.resolvConf(),
    });
    for (const w of warnings) this.deps.events.record(pod, 'Warning', 'DNSConfigForming', w);
    const sandboxConfig = generateSandboxConfig({
      pod, attempt, nodeName: config.nodeName, podSource: this.podSource(),
      networkName: this.deps.networkName, image: config.podInfraImage, dns,
    });
    try {
      await this.deps.store.ensurePodDir(this.uid);
      const id = await runtime.runPodSandbox(sandboxConfig);
      this.created.sandboxes.push(id);
      const status = await runtime.podSandboxStatus(id);
      const ip = pod.spec.hostNetwork ? this.deps.hostIP() : status.ip;
      await this.writeHostsFile(ip);
      this.log.info({ sandbox: id.slice(0, 12), ip }, 'sandbox started');
      return { id, ip };
    } catch (err) {
      if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
      const message = `Failed to create pod sandbox: ${(err as Error).message}`;
      this.deps.events.record(pod, 'Warning', 'FailedCreatePodSandBox', message);
      this.log.warn({ err }, 'sandbox creation failed');
      this.errorDelayMs = Math.min(ERROR_RETRY_MAX_MS, Math.max(ERROR_RETRY_MIN_MS, this.errorDelayMs * 2));
      this.scheduleWake(this.errorDelayMs);
      return undefined;
    }
  }

  private hostsFilePath(): string {
    return joinInside(this.deps.store.podDir(this.uid), 'etc-hosts');
  }

  private async writeHostsFile(podIP: string): Promise<void> {
    const spec = this.pod.spec;
    const content = spec.hostNetwork
      ? buildHostNetworkHostsFile(this.deps.hostFiles.hosts(), spec.hostAliases)
      : buildHostsFile({
          podIP,
          hostname: podHostname(this.pod),
          subdomain: spec.subdomain,
          namespace: this.pod.metadata.namespace ?? 'default',
          clusterDomain: this.deps.config.clusterDomain,
          hostAliases: spec.hostAliases,
        });
    await writeFile(this.hostsFilePath(), content, { mode: 0o644 });
  }

  private previousInstance(snap: RuntimePodSnapshot, name: string): ContainerStatus | undefined {
    return snap.status.containers.find((c) => (c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name) === name);
  }

  /** Returns whether a container was created. */
  private async startContainer(
    snap: RuntimePodSnapshot, sandboxId: string, podIP: string, container: Container, kind: 'init' | 'regular', attempt: number,
  ): Promise<boolean> {
    const { runtime, config, events, crashBackoff } = this.deps;
    const pod = this.pod;
    const name = container.name;
    const log = this.log.child({ container: name });

    // CrashLoopBackOff: a container that exited waits out its back-off before it runs again.
    const previous = this.previousInstance(snap, name);
    const key = backoffKey(this.uid, name, hashContainer(container));
    if (previous && previous.state === 'exited') {
      const since = (previous.finishedAt ?? previous.createdAt).getTime();
      if (crashBackoff.isInBackOff(key, since)) {
        const remaining = crashBackoff.remainingMs(key, since);
        const delay = Math.round((this.deps.clock.now() - since + remaining) / 1000);
        const message = `back-off ${delay}s restarting failed container=${name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${this.uid})`;
        if (this.waiting.get(name)?.reason !== 'CrashLoopBackOff') {
          events.record(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${podKey(pod)}`);
        }
        this.waiting.set(name, { reason: 'CrashLoopBackOff', message });
        this.scheduleWake(remaining + 10);
        return false;
      }
      crashBackoff.next(key);
    }

    let imageRef: string;
    try {
      imageRef = await this.deps.images.ensureImage(pod, container);
    } catch (err) {
      if (err instanceof ImageError) {
        this.waiting.set(name, { reason: err.reason, message: err.message });
        log.warn({ reason: err.reason }, err.message);
        this.scheduleWake(err.reason === 'ErrImagePull' ? 1_000 : 10_000);
        return false;
      }
      throw err;
    }

    let id: string;
    try {
      const envObjects: EnvObjects = await loadEnvObjects(pod, this.deps.volumes?.objects ?? NO_OBJECTS);
      const envContext = { podIP, hostIP: this.deps.hostIP(), nodeName: config.nodeName, ...envObjects };
      const mounts = await this.prepareMounts(container, attempt);
      if (this.deps.volumes && (container.volumeMounts ?? []).length > 0) {
        const env = new Map(makeEnvironment(pod, container, envContext).map((e) => [e.key, e.value]));
        mounts.push(...(await this.deps.volumes.containerMounts(pod, container, env, this.mountedVolumes)));
      }
      const cfg = generateContainerConfig({
        pod, container, kind, attempt, ...envContext,
        hostsFilePath: this.hostsFilePath(), podSource: this.podSource(), config, imageRef, mounts,
      });
      const sandboxConfig = generateSandboxConfig({
        pod, attempt: 0, nodeName: config.nodeName, podSource: this.podSource(),
        networkName: this.deps.networkName, image: config.podInfraImage,
      });
      id = await runtime.createContainer(sandboxId, cfg, sandboxConfig);
      this.created.containers.push(id);
    } catch (err) {
      if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
      const reason = err instanceof CreateContainerConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
      const message = (err as Error).message;
      this.waiting.set(name, { reason, message });
      events.record(pod, 'Warning', 'Failed', `Error: ${message}`);
      log.warn({ reason }, message);
      this.scheduleWake(10_000);
      return false;
    }
    events.record(pod, 'Normal', 'Created', `Created container ${name}`);
    try {
      await runtime.startContainer(id);
    } catch (err) {
      if (isRuntimeError(err, 'RuntimeUnavailable')) throw err;
      const message = (err as Error).message;
      this.waiting.set(name, { reason: 'RunContainerError', message });
      events.record(pod, 'Warning', 'Failed', `Error: ${message}`);
      log.warn({ reason: 'RunContainerError' }, message);
      return true;
    }
    this.waiting.delete(name);
    events.record(pod, 'Normal', 'Started', `Started container ${name}`);
    log.info({ attempt }, 'container started');
    // postStart runs before the next status is computed, so the container is not
    // reported ready until its hook returned; a failed hook kills the container.
    if (container.lifecycle?.postStart && this.deps.hooks) {
      const hook = await this.deps.hooks.runPostStart(pod, container, id, podIP);
      if (!hook.ok) {
        this.waiting.set(name, { reason: 'PostStartHookError', message: hook.message });
        events.record(pod, 'Normal', 'Killing', `FailedPostStartHook: stopping container ${name}`);
        log.warn({ reason: 'PostStartHookError' }, hook.message);
        await runtime.stopContainer(id, this.graceFor(pod.spec.terminationGracePeriodSeconds ?? 30));
      }
    }
    return true;
  }

  private containerSpec(name: string): Container | undefined {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find((c) => c.name === name);
  }

  /**
   * Stops one container: its preStop hook first, whose time is taken out of the
   * grace period (at least 2 s remain for SIGTERM), then the stop signal.
   */
  private async stopWithHooks(
    id: string, name: string, running: boolean, gracePeriodSeconds: number, podIP: string, labels?: Record<string, string>,
  ): Promise<void> {
    let grace = this.graceFor(gracePeriodSeconds);
    const spec = this.containerSpec(name) ?? (labels ? containerFromLabels(name, labels) : undefined);
    if (running && spec?.lifecycle?.preStop && this.deps.hooks) {
      grace = await this.deps.hooks.runPreStop(this.pod, spec, id, podIP, gracePeriodSeconds);
    }
    await this.deps.runtime.stopContainer(id, grace);
  }

  /** The termination-message file, mounted at terminationMessagePath as kubelet does. */
  private async prepareMounts(container: Container, attempt: number): Promise<Mount[]> {
    const path = container.terminationMessagePath ?? '/dev/termination-log';
    const dir = joinInside(this.deps.store.podDir(this.uid), 'containers', safeSegment(container.name, 'container name'));
    await mkdir(dir, { recursive: true });
    const file = joinInside(dir, `termination-log-${attempt}`);
    await writeFile(file, '', { flag: 'w' });
    await chmod(file, 0o666);
    return [{ containerPath: path, hostPath: file, readonly: false }];
  }

  private async readTerminationMessages(snap: RuntimePodSnapshot): Promise<void> {
    const all = [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers];
    for (const c of snap.status.containers) {
      if (c.state !== 'exited' || this.terminationMessages.has(c.id)) continue;
      const spec = all.find((s) => s.name === c.metadata.name);
      const mount = c.mounts.find((m) => m.containerPath === (spec?.terminationMessagePath ?? '/dev/termination-log'));
      let message = '';
      if (mount) {
        try {
          message = (await readFile(mount.hostPath)).subarray(0, MAX_TERMINATION_MESSAGE_BYTES).toString('utf8');
        } catch { /* the pod directory may already be gone */ }
      }
      if (!message && spec?.terminationMessagePolicy === 'FallbackToLogsOnError' && (c.exitCode ?? 0) !== 0) {
        message = await this.tailLogs(c.id);
      }
      this.terminationMessages.set(c.id, message);
    }
  }

  private async tailLogs(id: string): Promise<string> {
    try {
      const stream = await this.deps.runtime.logs(id, { tailLines: FALLBACK_LOG_LINES });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      const text = Buffer.concat(chunks).toString('utf8');
      return text.length > 2048 ? text.slice(text.length - 2048) : text;
    } catch {
      return '';
    }
  }

  private async publishStatus(snap: RuntimePodSnapshot): Promise<PodStatus> {
    await this.readTerminationMessages(snap);
    // Waiting reasons belong to the current instance: a newer running one clears them.
    for (const c of snap.status.containers) {
      if (c.state === 'running') this.waiting.delete(c.metadata.name);
    }
    const probes = this.deps.probes;
    if (probes) {
      // Probe workers follow the containers' current instances (a new ID restarts them).
      const seen = new Set<string>();
      const containers = [];
      for (const c of snap.status.containers) {
        const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
        if (seen.has(name)) continue;
        seen.add(name);
        containers.push({ name, containerId: c.id, startedAt: c.startedAt, running: c.state === 'running' });
      }
      const ip = snap.status.sandboxes[0]?.ip || (this.pod.spec.hostNetwork ? this.deps.hostIP() : '');
      if (this.termination || isTerminalPhase(this.status?.phase)) probes.removePod(this.uid);
      else probes.syncPod(this.pod, { podIP: ip, containers });
    }
    const status = computePodStatus({
      pod: this.pod,
      runtime: snap.status,
      previous: this.status,
      waiting: this.waiting,
      readiness: probes?.readiness(this.uid),
      started: probes?.started(this.uid),
      hostIP: this.deps.hostIP(),
      now: new Date(this.deps.clock.now()),
      terminationMessages: this.terminationMessages,
      runtimeType: this.deps.runtime.runtimeType,
    });
    if (this.pod.spec.hostNetwork && !status.podIP) {
      status.podIP = status.hostIP;
      status.podIPs = status.hostIPs;
    }
    // As kubelet: a failed pod turns terminal only once its containers have stopped; a
    // status computed while the kill is still to come keeps the phase it has.
    if (this.failure && !snap.status.containers.some((c) => c.state === 'running')) {
      status.phase = 'Failed';
      status.reason = this.failure.reason;
      status.message = this.failure.message;
    }
    // A pod that has finished keeps the IP it had, as kubelet reports it.
    if (isTerminalPhase(status.phase) && !status.podIP && this.status?.podIP) {
      status.podIP = this.status.podIP;
      status.podIPs = this.status.podIPs;
    }
    if (probes) {
      const results = JSON.stringify(probes.results(this.uid));
      if (results !== this.lastProbeResults) {
        this.lastProbeResults = results;
        await this.deps.store.saveProbeResults(this.uid, JSON.parse(results));
      }
    }
    const before = this.status?.phase;
    this.status = status;
    const serialized = JSON.stringify(status);
    if (serialized !== this.lastSavedStatus) {
      this.lastSavedStatus = serialized;
      if (before !== status.phase) this.log.info({ phase: status.phase }, `pod phase ${before ?? 'none'} -> ${status.phase}`);
      await this.deps.store.saveStatus(this.uid, status);
      this.deps.onStatus?.(this.pod, status);
    }
    return status;
  }

  private graceFor(seconds: number): number {
    return Math.max(MINIMUM_GRACE_SECONDS, seconds);
  }

  /** Stops every running container of the pod (in parallel, with grace), then its sandboxes. */
  private async killPod(snap: RuntimePodSnapshot, gracePeriodSeconds: number, reason: string): Promise<void> {
    const { runtime } = this.deps;
    const running = snap.allContainers.filter((c) => c.state === 'running' || c.state === 'created');
    await Promise.all(
      running.map(async (c) => {
        const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata.name;
        if (c.state === 'running') {
          this.deps.events.record(this.pod, 'Normal', 'Killing', `Stopping container ${name}`);
          this.log.info({ container: name, grace: gracePeriodSeconds, reason }, 'stopping container');
        }
        await this.stopWithHooks(c.id, name, c.state === 'running', gracePeriodSeconds, snap.status.sandboxes[0]?.ip ?? '', c.labels);
      }),
    );
    await Promise.all(
      snap.allSandboxes.filter((s) => s.state === 'ready').map((s) => runtime.stopPodSandbox(s.id)),
    );
  }

  /** Removes every container and sandbox of the pod, then its directory. */
  private async removeAll(): Promise<void> {
    const { runtime, config } = this.deps;
    const snap = await readRuntimePod(runtime, config.nodeName, this.uid);
    await Promise.all(snap.allContainers.map((c) => runtime.removeContainer(c.id)));
    await Promise.all(snap.allSandboxes.map((s) => runtime.removePodSandbox(s.id)));
    // Volumes go only once no container can use them; a tmpfs is unmounted before removal.
    await this.deps.volumes?.tearDownPod(this.uid);
    await this.deps.store.removePodDir(this.uid);
  }

  /** Keeps the newest exited instance per container (for lastState and logs); removes older ones. */
  private async pruneDeadContainers(snap: RuntimePodSnapshot): Promise<void> {
    const keep = this.deps.config.maxDeadContainersPerContainer;
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
    for (const id of doomed) {
      try {
        await this.deps.runtime.removeContainer(id);
        this.terminationMessages.delete(id);
      } catch (err) {
        this.log.debug({ err }, 'pruning an exited container failed');
      }
    }
  }

  private scheduleNextWake(deadlineMs: number | undefined): void {
    let next = this.deps.config.syncFrequencyMs;
    if (deadlineMs !== undefined) next = Math.min(next, Math.max(0, deadlineMs) + 10);
    this.scheduleWake(next);
  }
}

/**
 * The part of a container spec an orphan's stop needs (its preStop hook and ports),
 * from the labels written when it was created; undefined when it has no hook.
 */
export function containerFromLabels(name: string, labels: Record<string, string>): Container | undefined {
  const handler = labels[LABEL_PRESTOP_HANDLER];
  if (!handler) return undefined;
  try {
    const ports = labels[LABEL_CONTAINER_PORTS];
    return { name, image: '', lifecycle: { preStop: JSON.parse(handler) }, ...(ports ? { ports: JSON.parse(ports) } : {}) };
  } catch {
    return undefined; // a label someone edited by hand: stop without the hook
  }
}

/** Reconstructs enough of a pod from runtime labels to terminate an orphan. */
export function orphanPodFromLabels(uid: string, labels: Record<string, string>, name: string, namespace: string): Pod {
  const grace = Number(labels[LABEL_TERMINATION_GRACE]);
  return {
    metadata: { name, namespace, uid },
    spec: { containers: [], terminationGracePeriodSeconds: Number.isFinite(grace) ? grace : 30 },
  };
}
