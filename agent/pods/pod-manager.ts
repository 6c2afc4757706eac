// Holds the desired pods by UID and one PodWorker per pod. Wakes workers when the
// runtime changes (engine events, plus a periodic relist that catches anything the
// event stream missed) and hands pods nobody wants any more to a terminating worker.
import type { Pod, PodStatus } from '../api/types.js';
import type { Logger } from '../log/logger.js';
import type { PodSourceUpdate } from '../sources/types.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, nodeSelectorLabels } from '../runtime/labels.js';
import { isRuntimeError } from '../runtime/errors.js';
import { PodWorker, orphanPodFromLabels, type PodWorkerDeps } from './pod-worker.js';
import { isTerminalPhase } from '../api/terminal-phase.js';

export type AdmitResult = { admit: true } | { admit: false; reason: string; message: string };

export interface PodManagerDeps extends Omit<PodWorkerDeps, 'onRemoved'> {
  /** Decides whether a new pod may run here, given the pods already admitted. */
  admit?: (pod: Pod, admitted: Pod[]) => AdmitResult;
  /** A pod's containers, sandbox and directory are gone (the final delete may follow). */
  onPodRemoved?: (pod: Pod) => void;
}

const RELIST_ERROR_MAX_MS = 30_000;
/**
 * Engine events that mean a pod's state changed behind its worker's back. Creates
 * and starts are the worker's own doing (or are caught by the relist), so waking
 * the worker for them would only repeat work.
 */
const WAKING_ACTIONS = new Set(['die', 'oom', 'destroy', 'pause', 'unpause']);

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private readonly desired = new Map<string, Pod>();
  /** Pods refused by admission: they never get a worker. */
  private readonly refused = new Map<string, Pod>();
  private firstUpdateSeen = false;
  private readonly abort = new AbortController();
  private relistTimer?: ReturnType<typeof setTimeout>;
  private lastRelist = new Map<string, string>();
  private relistDone = false;
  private lastDirCleanup = 0;
  private dirCleanupRunning = false;
  private runtimeDown = false;
  private readonly log: Logger;
  private resolveFirstUpdate!: () => void;
  /** Settles when the pod source delivered its first snapshot (until then nothing is killed). */
  readonly firstUpdate: Promise<void>;

  constructor(private readonly deps: PodManagerDeps) {
    this.log = deps.logger;
    this.firstUpdate = new Promise((r) => { this.resolveFirstUpdate = r; });
  }

  /** Applies a full snapshot of desired pods from the sources. */
  update(update: PodSourceUpdate): void {
    void this.deps.store.saveRejected(update.rejected).catch((err) => this.log.warn({ err }, 'cannot save rejected manifests'));
    const next = new Map(update.pods.map((p) => [p.metadata.uid ?? '', p]));
    for (const [uid, pod] of next) {
      this.desired.set(uid, pod);
      const worker = this.workers.get(uid);
      if (pod.metadata.deletionTimestamp) {
        // Graceful deletion: stop with the deletion's grace period, then remove everything.
        if (worker) {
          worker.terminate({ gracePeriodSeconds: pod.metadata.deletionGracePeriodSeconds, remove: true, reason: 'pod deleted' });
        } else if (!this.finalized.has(uid)) {
          this.finalized.add(uid);
          this.refused.delete(uid);
          this.deps.onPodRemoved?.(pod); // never ran here: nothing to stop
        }
        continue;
      }
      if (worker && !worker.isTerminating) worker.update(pod);
      else if (!worker && !this.refused.has(uid)) this.admitAndStart(pod);
    }
    for (const [uid, pod] of this.desired) {
      if (next.has(uid)) continue;
      this.desired.delete(uid);
      if (this.refused.delete(uid)) void this.deps.store.removePodDir(uid).catch(() => undefined);
      this.finalized.delete(uid);
      const worker = this.workers.get(uid);
      if (worker && !worker.isTerminating) {
        this.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid }, 'pod removed from its source, terminating');
      }
      worker?.terminate({ remove: true, reason: 'pod removed' });
    }
    if (!this.firstUpdateSeen) {
      this.firstUpdateSeen = true;
      this.resolveFirstUpdate();
      void this.relist();
    }
  }

  private readonly finalized = new Set<string>();

  /** Pods that hold node resources: admitted, not finished, not being torn down. */
  private admittedPods(): Pod[] {
    return [...this.workers.values()]
      .filter((w) => !w.isTerminating && !isTerminalPhase(w.currentStatus?.phase))
      .map((w) => w.currentPod);
  }

  private admitAndStart(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    // A pod already running here (agent restart) was admitted before: never refuse it now.
    const adopted = this.lastRelist.has(uid);
    const verdict = this.deps.admit && !adopted ? this.deps.admit(pod, this.admittedPods()) : { admit: true as const };
    if (!verdict.admit) {
      this.refused.set(uid, pod);
      this.log.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid, reason: verdict.reason }, `pod refused by admission: ${verdict.message}`);
      this.deps.events.record(pod, 'Warning', verdict.reason, verdict.message);
      const status: PodStatus = {
        phase: 'Failed', reason: verdict.reason, message: verdict.message,
        startTime: new Date(this.deps.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      this.refused.set(uid, { ...pod, status });
      this.deps.onStatus?.(pod, status);
      // Recorded like any other pod so `nodelet pods` shows why it is not running.
      void this.deps.store.savePod(pod).then(() => this.deps.store.saveStatus(uid, status))
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot record refused pod'));
      return;
    }
    this.startWorker(pod);
  }

  private startWorker(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    // A pod the last relist did not see has nothing in the runtime yet: skip reading it.
    const knownEmpty = this.relistDone && !this.lastRelist.has(uid);
    const worker = this.newWorker(pod, undefined, knownEmpty);
    worker.hold();
    worker.requestSync();
    void (async () => {
      let previous: PodStatus | undefined;
      try {
        // Restore the status computed before a restart: startTime and terminal phases must survive it.
        previous = (await this.deps.store.loadPod(uid))?.status;
        await this.deps.store.savePod(worker.currentPod);
      } catch (err) {
        this.log.error({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid, err: (err as Error).message }, 'cannot record pod state');
      }
      worker.release(previous);
    })();
  }

  private newWorker(pod: Pod, previous?: PodStatus, knownEmpty = false): PodWorker {
    const uid = pod.metadata.uid ?? '';
    const worker = new PodWorker(pod, {
      ...this.deps,
      onRemoved: (removedUid) => {
        if (this.workers.get(removedUid) === worker) this.workers.delete(removedUid);
        const again = this.desired.get(removedUid);
        if (again?.metadata.deletionTimestamp) {
          this.finalized.add(removedUid);
          this.deps.onPodRemoved?.(again);
        } else if (again) {
          // Desired again while it was being torn down (a manifest restored): start afresh.
          this.startWorker(again);
        }
      },
    }, previous, { knownEmpty });
    this.workers.set(uid, worker);
    return worker;
  }

  /** Starts the event stream and the periodic relist. */
  start(): void {
    void this.watchEvents();
    this.scheduleRelist(this.deps.config.relistPeriodMs);
  }

  /** Stops all loops; containers keep running (an agent restart must not touch them). */
  /**
   * Stops every worker and waits (up to `waitMs`) for the syncs in progress to end, so
   * nothing is created in the runtime after this resolves.
   */
  async stop(waitMs = 30_000): Promise<void> {
    this.abort.abort();
    if (this.relistTimer) clearTimeout(this.relistTimer);
    for (const w of this.workers.values()) w.stop();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); timer.unref(); });
    await Promise.race([Promise.all([...this.workers.values()].map((w) => w.settled())), deadline]);
    clearTimeout(timer);
  }

  pods(): Array<{ pod: Pod; status?: PodStatus }> {
    return [
      ...[...this.workers.values()].map((w) => ({ pod: w.currentPod, status: w.currentStatus })),
      ...[...this.refused.values()].map((p) => ({ pod: p, status: p.status })),
    ];
  }

  worker(uid: string): PodWorker | undefined {
    return this.workers.get(uid);
  }

  private scheduleRelist(ms: number): void {
    if (this.abort.signal.aborted) return;
    if (this.relistTimer) clearTimeout(this.relistTimer);
    this.relistTimer = setTimeout(() => {
      void this.relist().finally(() => this.scheduleRelist(this.runtimeDown ? Math.min(RELIST_ERROR_MAX_MS, this.deps.config.relistPeriodMs * 2) : this.deps.config.relistPeriodMs));
    }, ms);
    this.relistTimer.unref();
  }

  /**
   * Lists every sandbox and container of this node, wakes the workers of pods whose
   * runtime state changed since the last relist, and terminates orphans.
   */
  async relist(): Promise<void> {
    const { runtime, config } = this.deps;
    let sandboxes, containers;
    try {
      const labels = nodeSelectorLabels(config.nodeName);
      [sandboxes, containers] = await Promise.all([runtime.listPodSandboxes({ labels }), runtime.listContainers({ labels })]);
    } catch (err) {
      if (!this.runtimeDown) {
        this.runtimeDown = true;
        this.log.error({ err: (err as Error).message }, isRuntimeError(err, 'RuntimeUnavailable')
          ? 'container runtime unreachable; pods keep their last state, retrying with backoff'
          : 'runtime relist failed, retrying');
      }
      return;
    }
    if (this.runtimeDown) {
      this.runtimeDown = false;
      this.log.info('container runtime reachable again; resyncing every pod');
      for (const w of this.workers.values()) w.requestSync();
    }
    const byUid = new Map<string, string[]>();
    const labelsByUid = new Map<string, Record<string, string>>();
    for (const item of [...sandboxes, ...containers]) {
      const uid = item.labels[LABEL_POD_UID];
      if (!uid) continue;
      const entry = byUid.get(uid) ?? [];
      entry.push(`${item.id}:${item.state}`);
      byUid.set(uid, entry);
      labelsByUid.set(uid, item.labels);
    }
    const current = new Map<string, string>();
    for (const [uid, states] of byUid) current.set(uid, states.sort().join(','));
    for (const [uid, fingerprint] of current) {
      const worker = this.workers.get(uid);
      if (worker) {
        if (this.lastRelist.get(uid) !== fingerprint) worker.requestSync();
      } else if (this.firstUpdateSeen && !this.desired.has(uid)) {
        const labels = labelsByUid.get(uid) ?? {};
        const name = labels[LABEL_POD_NAME] ?? 'unknown';
        const namespace = labels[LABEL_POD_NAMESPACE] ?? 'default';
        this.log.info({ pod: `${namespace}/${name}`, uid }, 'removing containers of a pod that is no longer desired');
        const orphan = this.newWorker(orphanPodFromLabels(uid, labels, name, namespace));
        orphan.terminate({ remove: true, reason: 'orphaned pod' });
      }
    }
    this.lastRelist = current;
    this.relistDone = true;
    if (this.firstUpdateSeen && !this.dirCleanupRunning && this.deps.clock.now() - this.lastDirCleanup >= this.deps.config.podDirCleanupPeriodMs) {
      this.lastDirCleanup = this.deps.clock.now();
      this.dirCleanupRunning = true;
      void this.cleanupOrphanedPodDirs(new Set(current.keys())).finally(() => { this.dirCleanupRunning = false; });
    }
  }

  /**
   * Tears down the directories (volumes first) of pods that are neither desired nor
   * in the runtime — pods that went away while the agent was down, or whose removal
   * was interrupted. Runs after the first snapshot and then periodically.
   */
  private async cleanupOrphanedPodDirs(inRuntime: ReadonlySet<string>): Promise<void> {
    for (const uid of await this.deps.store.listPodUIDs()) {
      if (this.workers.has(uid) || this.desired.has(uid) || this.refused.has(uid) || inRuntime.has(uid)) continue;
      try {
        await this.deps.volumes?.tearDownPod(uid);
        await this.deps.store.removePodDir(uid);
        this.log.info({ uid }, 'removed the directory and volumes of a pod no longer on this node');
      } catch (err) {
        this.log.warn({ uid, err: (err as Error).message }, 'cannot remove an orphaned pod directory; retrying later');
      }
    }
  }

  /** Every worker (for node-wide checks such as emptyDir size limits). */
  allWorkers(): PodWorker[] {
    return [...this.workers.values()];
  }

  private async watchEvents(): Promise<void> {
    let delay = 1_000;
    while (!this.abort.signal.aborted) {
      try {
        for await (const event of this.deps.runtime.events(this.abort.signal)) {
          delay = 1_000;
          const uid = event.labels[LABEL_POD_UID];
          if (uid && WAKING_ACTIONS.has(event.action)) this.workers.get(uid)?.requestSync();
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.log.debug({ err: (err as Error).message }, 'runtime event stream ended');
      }
      if (this.abort.signal.aborted) return;
      // The stream does not survive an engine restart: reopen it and relist to catch up.
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(RELIST_ERROR_MAX_MS, delay * 2);
      void this.relist();
    }
  }
}
