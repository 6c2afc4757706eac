// Holds the desired pods by UID and one PodWorker per pod. Wakes workers when the
// pod lifecycle event generator says their pods changed in the runtime, and hands
// pods nobody wants any more to a terminating worker.
import type { Pod, PodStatus } from '../api/types.js';
import type { Logger } from '../log/logger.js';
import type { PodLifecycleEvent, PodLifecycleListener, RuntimePodLabels } from '../pleg/pod-lifecycle-event.js';
import type { PodSourceUpdate } from '../sources/types.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE } from '../runtime/labels.js';
import { OrphanedPodDirs } from './orphaned-pod-dirs.js';
import { orphanPodFromLabels } from './pod-from-labels.js';
import { PodWorker, type PodWorkerDeps } from './pod-worker.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { RefusedPods, type AdmitResult } from './refused-pods.js';

/** The pod lifecycle event generator, as the manager uses it. */
export interface PodLifecycleEvents {
  watch(listener: PodLifecycleListener): () => void;
  /** Lists the runtime now; its events reach the listeners before this resolves. */
  relist(): Promise<void>;
  /** The pods the last successful relist found in the runtime; undefined before the first one. */
  podsInRuntime(): ReadonlyMap<string, RuntimePodLabels> | undefined;
}

export interface PodManagerDeps extends Omit<PodWorkerDeps, 'onRemoved'> {
  pleg: PodLifecycleEvents;
  /** Decides whether a new pod may run here, given the pods already admitted. */
  admit?: (pod: Pod, admitted: Pod[]) => AdmitResult;
  /** A pod's containers, sandbox and directory are gone (the final delete may follow). */
  onPodRemoved?: (pod: Pod) => void;
}

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private readonly desired = new Map<string, Pod>();
  /** Deleted pods whose removal was reported: not reported again. */
  private readonly finalized = new Set<string>();
  private readonly refused: RefusedPods;
  private readonly podDirs: OrphanedPodDirs;
  private readonly unwatch: () => void;
  private firstUpdateSeen = false;
  private readonly log: Logger;
  private resolveFirstUpdate!: () => void;
  /** Settles when the pod source delivered its first snapshot (until then nothing is killed). */
  readonly firstUpdate: Promise<void>;

  constructor(private readonly deps: PodManagerDeps) {
    this.log = deps.logger;
    this.firstUpdate = new Promise((r) => {
      this.resolveFirstUpdate = r;
    });
    this.refused = new RefusedPods(deps);
    this.podDirs = new OrphanedPodDirs({ ...deps, periodMs: deps.config.podDirCleanupPeriodMs });
    this.unwatch = deps.pleg.watch((event) => this.onLifecycleEvent(event));
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
      // Pods in the runtime that this snapshot does not want are orphans: find them now.
      void this.deps.pleg.relist();
    }
  }

  /** Pods that hold node resources: admitted, not finished, not being torn down. */
  private admittedPods(): Pod[] {
    return [...this.workers.values()].filter((w) => !w.isTerminating && !isTerminalPhase(w.currentStatus?.phase)).map((w) => w.currentPod);
  }

  private admitAndStart(pod: Pod): void {
    // A pod already running here (agent restart) was admitted before: never refuse it now.
    const adopted = this.deps.pleg.podsInRuntime()?.has(pod.metadata.uid ?? '') ?? false;
    if (this.refused.admit(pod, () => this.admittedPods(), adopted)) this.startWorker(pod);
  }

  private startWorker(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    // A pod the last relist did not see has nothing in the runtime yet: skip reading it.
    const inRuntime = this.deps.pleg.podsInRuntime();
    const knownEmpty = inRuntime !== undefined && !inRuntime.has(uid);
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
    const worker = new PodWorker(
      pod,
      {
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
      },
      previous,
      { knownEmpty },
    );
    this.workers.set(uid, worker);
    return worker;
  }

  /**
   * Stops every worker and waits (up to `waitMs`) for the syncs in progress to end, so
   * nothing is created in the runtime after this resolves. Containers keep running
   * (an agent restart must not touch them).
   */
  async stop(waitMs = 30_000): Promise<void> {
    this.unwatch();
    for (const w of this.workers.values()) w.stop();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    await Promise.race([Promise.all([...this.workers.values()].map((w) => w.settled())), deadline]);
    clearTimeout(timer);
  }

  pods(): Array<{ pod: Pod; status?: PodStatus }> {
    return [
      ...[...this.workers.values()].map((w) => ({ pod: w.currentPod, status: w.currentStatus })),
      ...this.refused.pods().map((p) => ({ pod: p, status: p.status })),
    ];
  }

  worker(uid: string): PodWorker | undefined {
    return this.workers.get(uid);
  }

  /** Every worker (for node-wide checks such as emptyDir size limits). */
  allWorkers(): PodWorker[] {
    return [...this.workers.values()];
  }

  private onLifecycleEvent(event: PodLifecycleEvent): void {
    switch (event.type) {
      case 'PodChanged':
        this.workers.get(event.uid)?.requestSync();
        return;
      case 'RuntimeUp':
        for (const w of this.workers.values()) w.requestSync();
        return;
      case 'RuntimeDown':
        return; // workers keep their pods' last state until the runtime answers again
      case 'Relisted':
        this.relisted(event.pods);
        return;
    }
  }

  /** After a relist: terminates orphans (in the runtime, wanted by no source) and cleans pod directories. */
  private relisted(inRuntime: ReadonlyMap<string, RuntimePodLabels>): void {
    // Until the first snapshot nothing is known to be unwanted.
    if (!this.firstUpdateSeen) return;
    for (const [uid, labels] of inRuntime) {
      if (this.workers.has(uid) || this.desired.has(uid)) continue;
      const name = labels[LABEL_POD_NAME] ?? 'unknown';
      const namespace = labels[LABEL_POD_NAMESPACE] ?? 'default';
      this.log.info({ pod: `${namespace}/${name}`, uid }, 'removing containers of a pod that is no longer desired');
      const orphan = this.newWorker(orphanPodFromLabels(uid, labels, name, namespace));
      orphan.terminate({ remove: true, reason: 'orphaned pod' });
    }
    this.podDirs.maybeClean(new Set(inRuntime.keys()), (uid) => this.workers.has(uid) || this.desired.has(uid) || this.refused.has(uid));
  }
}
