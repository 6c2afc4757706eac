// Holds the desired pods by UID and one PodWorker per pod. Wakes workers when the
// runtime changes (engine events, plus a periodic relist that catches anything the
// event stream missed) and hands pods nobody wants any more to a terminating worker.
import type { Pod, PodStatus } from '../api/types.js';
import type { Logger } from '../log/logger.js';
import type { PodSourceUpdate } from '../sources/types.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, nodeSelectorLabels } from '../runtime/labels.js';
import { isRuntimeError } from '../runtime/errors.js';
import { PodWorker, orphanPodFromLabels, type PodWorkerDeps } from './pod-worker.js';

export interface PodManagerDeps extends Omit<PodWorkerDeps, 'onRemoved'> {
  /** Retries of a failing relist or event stream back off up to this (ms). */
  maxRetryMs?: number;
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
  private firstUpdateSeen = false;
  private readonly abort = new AbortController();
  private relistTimer?: ReturnType<typeof setTimeout>;
  private lastRelist = new Map<string, string>();
  private relistDone = false;
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
      if (worker && !worker.isTerminating) worker.update(pod);
      else if (!worker) void this.startWorker(pod);
    }
    for (const [uid, pod] of this.desired) {
      if (next.has(uid)) continue;
      this.desired.delete(uid);
      this.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid }, 'pod removed from its source, terminating');
      this.workers.get(uid)?.terminate({ remove: true, reason: 'pod removed' });
    }
    if (!this.firstUpdateSeen) {
      this.firstUpdateSeen = true;
      this.resolveFirstUpdate();
      void this.relist();
    }
  }

  private async startWorker(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    // Restore the status computed before a restart: startTime and terminal phases must survive it.
    const saved = await this.deps.store.loadPod(uid);
    if (this.workers.has(uid) || !this.desired.has(uid)) return;
    const latest = this.desired.get(uid) ?? pod;
    // A pod the last relist did not see has nothing in the runtime yet: skip reading it.
    const knownEmpty = this.relistDone && !this.lastRelist.has(uid);
    const worker = this.newWorker(latest, saved?.status, knownEmpty);
    await this.deps.store.savePod(latest);
    worker.requestSync();
  }

  private newWorker(pod: Pod, previous?: PodStatus, knownEmpty = false): PodWorker {
    const uid = pod.metadata.uid ?? '';
    const worker = new PodWorker(pod, {
      ...this.deps,
      onRemoved: (removedUid) => {
        if (this.workers.get(removedUid) === worker) this.workers.delete(removedUid);
        // Desired again while it was being torn down (a manifest restored): start afresh.
        const again = this.desired.get(removedUid);
        if (again) void this.startWorker(again);
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
  stop(): void {
    this.abort.abort();
    if (this.relistTimer) clearTimeout(this.relistTimer);
    for (const w of this.workers.values()) w.stop();
  }

  pods(): Array<{ pod: Pod; status?: PodStatus }> {
    return [...this.workers.values()].map((w) => ({ pod: w.currentPod, status: w.currentStatus }));
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
