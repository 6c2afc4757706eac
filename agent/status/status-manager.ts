// The only writer of pod status to the apiserver (kubelet's status manager).
//   setPodStatus records the latest status a pod worker computed; each pod has its
//   own queue that sends PATCH pods/<name>/status (strategic merge, the UID as
//   precondition) when that status differs from what the server has — updates
//   arriving while one is in flight fold into the next, so a pod costs one patch
//   per real change at most, and a slow or failing pod never holds up another.
//   Failures are retried with backoff for that pod alone; a pod whose object is
//   gone (404, or a new UID under its name) is dropped.
//   Every resyncPeriodMs a full pass sends what is still unsent and compares every
//   pod with the informer's copy of the server's status: an update lost on the way,
//   or an apiserver restored from an older state, is corrected.
//   Static pods have no object of their own: their status goes to their mirror pod.
//   podDeleted finishes a graceful deletion: a terminal status first, then the
//   final DELETE with grace 0 and the UID as precondition.
import type { Pod, PodStatus } from '../api/types.js';
import { podKey } from '../api/types.js';
import { backoffDelay, type BackoffPolicy } from '../api/backoff.js';
import type { CallOptions, PatchType } from '../kube/client.js';
import { isConflict, isNotFound, isRetryable } from '../kube/errors.js';
import { resourcePath } from '../kube/resource-path.js';
import type { DeleteOptions } from '../kube/types.js';
import type { Logger } from '../log/logger.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import type { ApiPodCache } from './api-pod-cache.js';
import { isMirrorPodOf, isStaticPod } from '../api/pod-identity.js';
import { mergeWithApiStatus, normalizePodStatus, statusesEqual, statusPatch } from './status-diff.js';
import { canBeDeleted, terminalStatus } from './terminal-status.js';

/** The part of KubeClient the status manager needs. */
export interface StatusClient {
  get<T>(path: string, options?: CallOptions): Promise<T>;
  patch<T>(path: string, patch: unknown, type: PatchType, options?: CallOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: DeleteOptions & CallOptions): Promise<T>;
}

export interface StatusManagerOptions {
  client: StatusClient;
  logger: Logger;
  clock?: Clock;
  /**
   * The informer's copy of the server's pods. With it, a status update costs one
   * PATCH; without it, a GET comes first. Mirror pods are found through it too.
   */
  pods?: ApiPodCache;
  /** Full pass over every pod. Default 10 s (kubelet's syncPeriod of the status manager). */
  resyncPeriodMs?: number;
  /** Retry delays of a pod whose update failed. Default 1 s doubling to 10 s. */
  backoff?: Partial<BackoffPolicy>;
  random?: () => number;
}

/** What the server said about a pod's object, as far as the status manager is concerned. */
interface ApiTarget {
  namespace: string;
  name: string;
  uid: string;
  status: PodStatus | undefined;
  deletionTimestamp: string | undefined;
  resourceVersion: string | undefined;
}

interface PodEntry {
  /** The pod as its source has it (for a static pod, not the mirror). */
  pod: Pod;
  /** The latest status, normalized as the server stores it. */
  status: PodStatus;
  /** Bumped by every real change of `status`. */
  version: number;
  /** The version the server is known to hold (sent, or found already there). */
  sentVersion: number;
  /** The server's status after our last write, for the object with UID apiUid. */
  apiStatus: PodStatus | undefined;
  apiUid: string | undefined;
  apiResourceVersion: string | undefined;
  /** The server refused `version` for good (Invalid…): do not send it again. */
  refusedVersion: number;
  /** The pod's object is gone; nothing is sent until the pod is forgotten or set again with another UID. */
  gone: boolean;
  /** The caller said the pod's containers, sandbox and volumes are gone. */
  finished: boolean;
  /** Compare with a fresh GET rather than with what we last wrote. */
  reconcile: boolean;
  loop: Promise<void> | undefined;
  again: boolean;
  failures: number;
  retryTimer: Timer | undefined;
}

type SyncOutcome = 'done' | 'retry';

const DEFAULT_RESYNC_MS = 10_000;
const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 10_000, jitter: 0.2 };

function podPath(namespace: string, name: string, subresource?: string): string {
  return resourcePath({ version: 'v1', resource: 'pods', namespace, name, ...(subresource ? { subresource } : {}) });
}

/** Is resourceVersion `a` older than `b`? Only when both are integers (etcd revisions); otherwise unknown. */
function olderVersion(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

function targetOf(pod: Pod): ApiTarget {
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
    status: pod.status,
    deletionTimestamp: pod.metadata.deletionTimestamp,
    resourceVersion: pod.metadata.resourceVersion,
  };
}

export class StatusManager {
  private readonly client: StatusClient;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly cache: ApiPodCache | undefined;
  private readonly resyncPeriodMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly entries = new Map<string, PodEntry>();
  private readonly patches = new Map<string, number>();
  private totalPatches = 0;
  private totalDeletes = 0;
  private resyncTimer: Timer | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private stopped = false;

  constructor(options: StatusManagerOptions) {
    this.client = options.client;
    this.log = options.logger.child({ component: 'status-manager' });
    this.clock = options.clock ?? realClock;
    this.cache = options.pods;
    this.resyncPeriodMs = options.resyncPeriodMs ?? DEFAULT_RESYNC_MS;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  /** Starts the periodic resync and follows the pod cache (a new mirror pod unblocks its static pod). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.unsubscribe = this.cache?.onPodChange((pod, deleted) => this.onApiPodChange(pod, deleted));
    this.armResync();
  }

  /** Stops timers and waits for requests in flight; nothing is sent afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    this.unsubscribe?.();
    for (const entry of this.entries.values()) {
      entry.retryTimer?.cancel();
      entry.retryTimer = undefined;
    }
    await Promise.all([...this.entries.values()].map((e) => e.loop));
  }

  /** Records the latest status of `pod` and queues it for the apiserver when it changed. */
  setPodStatus(pod: Pod, status: PodStatus): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid;
    if (!uid) {
      this.log.error({ pod: podKey(pod) }, 'status of a pod without metadata.uid cannot be sent; dropped');
      return;
    }
    const normalized = normalizePodStatus(status);
    let entry = this.entries.get(uid);
    if (!entry) {
      entry = this.addEntry(uid, pod, normalized, { sentVersion: 0 });
      this.schedule(entry);
      return;
    }
    entry.pod = pod;
    if (isTerminalPhase(entry.status.phase) && !isTerminalPhase(normalized.phase)) {
      this.log.warn(
        { pod: podKey(pod), uid, from: entry.status.phase, to: normalized.phase },
        'ignoring a status that would move the pod out of its terminal phase',
      );
      return;
    }
    if (statusesEqual(entry.status, normalized)) return;
    entry.status = normalized;
    entry.version++;
    this.schedule(entry);
  }

  /** The latest status recorded for the pod with this UID. */
  getPodStatus(uid: string): PodStatus | undefined {
    return this.entries.get(uid)?.status;
  }

  /**
   * The pod's containers, sandbox and volumes are gone. When its object awaits
   * deletion (deletionTimestamp), a terminal status goes out, then the final DELETE
   * (grace 0, UID precondition); otherwise the pod is simply forgotten. Static pods
   * are only forgotten: their mirror pods belong to the MirrorPodManager.
   */
  podDeleted(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid || this.stopped) return;
    if (isStaticPod(pod)) {
      this.forgetPod(uid);
      return;
    }
    let entry = this.entries.get(uid);
    if (entry?.gone) {
      this.forgetPod(uid);
      return;
    }
    if (!entry) {
      // Nothing recorded (the agent restarted meanwhile): the server's status is the last one known.
      entry = this.addEntry(uid, pod, normalizePodStatus(pod.status), { sentVersion: 1 });
    }
    entry.pod = pod;
    entry.finished = true;
    entry.retryTimer?.cancel();
    entry.retryTimer = undefined;
    this.schedule(entry);
  }

  private addEntry(uid: string, pod: Pod, status: PodStatus, init: { sentVersion: number }): PodEntry {
    const entry: PodEntry = {
      pod,
      status,
      version: 1,
      sentVersion: init.sentVersion,
      apiStatus: undefined,
      apiUid: undefined,
      apiResourceVersion: undefined,
      refusedVersion: 0,
      gone: false,
      finished: false,
      reconcile: false,
      loop: undefined,
      again: false,
      failures: 0,
      retryTimer: undefined,
    };
    this.entries.set(uid, entry);
    return entry;
  }

  /** Drops everything known about the pod (it left every source). */
  forgetPod(uid: string): void {
    const entry = this.entries.get(uid);
    if (!entry) return;
    entry.retryTimer?.cancel();
    this.entries.delete(uid);
    this.patches.delete(uid);
  }

  /**
   * Forgets every pod not in `uids` (kubelet's RemoveOrphanedStatuses), except
   * those whose final delete is still under way. Call it with the UIDs of the
   * desired pods after each snapshot, so statuses of pods gone meanwhile do not linger.
   */
  removeOrphanedStatuses(uids: ReadonlySet<string>): void {
    for (const [uid, entry] of this.entries) {
      if (!uids.has(uid) && !entry.finished) this.forgetPod(uid);
    }
  }

  /** Status patches sent for the pod with this UID (successful ones). */
  patchCount(uid: string): number {
    return this.patches.get(uid) ?? 0;
  }

  /** Totals since start: status patches and final deletes that succeeded. */
  stats(): { patches: number; deletes: number; pods: number } {
    return { patches: this.totalPatches, deletes: this.totalDeletes, pods: this.entries.size };
  }

  /**
   * Sends every pending update now (retries included, without waiting for their
   * backoff) and resolves when all requests in flight are done. For tests and shutdown.
   */
  async flush(): Promise<void> {
    for (const entry of this.entries.values()) {
      if (this.needsSync(entry)) {
        entry.retryTimer?.cancel();
        entry.retryTimer = undefined;
        this.schedule(entry);
      }
    }
    await this.settled();
  }

  /** Resolves when no pod has a request in flight (retries waiting for their backoff are not started). */
  async settled(): Promise<void> {
    for (;;) {
      const loops = [...this.entries.values()].map((e) => e.loop).filter((l) => l !== undefined);
      if (loops.length === 0) return;
      await Promise.all(loops);
    }
  }

  /** One full pass now (what the timer does every resyncPeriodMs). */
  resync(): void {
    for (const entry of this.entries.values()) {
      if (entry.loop || entry.retryTimer || entry.gone) continue;
      if (this.needsSync(entry)) {
        this.schedule(entry);
      } else if (this.needsReconcile(entry)) {
        this.log.debug({ pod: podKey(entry.pod) }, 'server status differs from ours; reconciling');
        entry.reconcile = true;
        this.schedule(entry);
      }
    }
  }

  private armResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resync();
      this.armResync();
    }, this.resyncPeriodMs);
  }

  private needsSync(entry: PodEntry): boolean {
    if (entry.gone) return false;
    return entry.finished || (entry.sentVersion < entry.version && entry.refusedVersion !== entry.version);
  }

  /** The informer shows a server status other than ours (and not merely older than our last write). */
  private needsReconcile(entry: PodEntry): boolean {
    if (!this.cache || entry.refusedVersion === entry.version) return false;
    const api = this.cachedTarget(entry);
    if (!api) return false;
    if (api.uid === entry.apiUid && olderVersion(api.resourceVersion, entry.apiResourceVersion)) return false;
    return !statusesEqual(api.status, mergeWithApiStatus(api.status, entry.status));
  }

  private onApiPodChange(pod: Pod, deleted: boolean): void {
    for (const [uid, entry] of this.entries) {
      if (entry.pod.metadata.name !== pod.metadata.name || (entry.pod.metadata.namespace ?? 'default') !== (pod.metadata.namespace ?? 'default')) continue;
      if (isStaticPod(entry.pod)) {
        // A (new) mirror pod appeared: its status starts empty, send ours.
        if (!deleted && isMirrorPodOf(pod, entry.pod) && pod.metadata.uid !== entry.apiUid && !entry.loop && !entry.retryTimer) {
          this.schedule(entry);
        }
      } else if (deleted && pod.metadata.uid === uid && !entry.finished) {
        entry.gone = true;
      }
    }
  }

  private schedule(entry: PodEntry): void {
    if (this.stopped || entry.retryTimer) return;
    if (entry.loop) {
      entry.again = true;
      return;
    }
    entry.loop = this.runLoop(entry);
  }

  private async runLoop(entry: PodEntry): Promise<void> {
    // Let the caller's synchronous burst of updates land first.
    await Promise.resolve();
    let outcome: SyncOutcome = 'done';
    try {
      do {
        entry.again = false;
        outcome = await this.syncPod(entry);
      } while (outcome === 'done' && entry.again && !this.stopped && this.entries.has(this.uidOf(entry)));
    } catch (err) {
      outcome = 'retry';
      this.log.error({ err, pod: podKey(entry.pod) }, 'status sync failed unexpectedly');
    } finally {
      entry.loop = undefined;
    }
    if (this.stopped || !this.entries.has(this.uidOf(entry))) return;
    if (outcome === 'retry') {
      entry.failures++;
      const delayMs = backoffDelay(entry.failures, this.backoff, this.random);
      entry.retryTimer = this.clock.setTimeout(() => {
        entry.retryTimer = undefined;
        if (this.needsSync(entry) || entry.reconcile) this.schedule(entry);
      }, delayMs);
    } else {
      entry.failures = 0;
      if (entry.again) this.schedule(entry);
    }
  }

  private uidOf(entry: PodEntry): string {
    return entry.pod.metadata.uid ?? '';
  }

  /** The server's object for the entry as the informer has it, if any. */
  private cachedTarget(entry: PodEntry): ApiTarget | undefined {
    const { pod } = entry;
    const api = this.cache?.getPod(pod.metadata.namespace ?? 'default', pod.metadata.name ?? '');
    if (!api) return undefined;
    if (isStaticPod(pod)) return isMirrorPodOf(api, pod) ? targetOf(api) : undefined;
    return api.metadata.uid === pod.metadata.uid ? targetOf(api) : undefined;
  }

  /** The server's object: our last write, the informer's copy, or a GET. 'gone' / 'no-mirror' when there is none. */
  private async findTarget(entry: PodEntry, fresh: boolean): Promise<ApiTarget | 'gone' | 'no-mirror'> {
    const { pod } = entry;
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    const isStatic = isStaticPod(pod);
    let api: Pod | undefined;
    if (!fresh) {
      const cached = this.cachedTarget(entry);
      if (cached) {
        // Our own last write is newer than the informer's copy unless the copy is of another object.
        if (cached.uid === entry.apiUid && !olderVersion(entry.apiResourceVersion, cached.resourceVersion)) {
          return { ...cached, status: entry.apiStatus, resourceVersion: entry.apiResourceVersion };
        }
        return cached;
      }
      if (isStatic && this.cache) return 'no-mirror';
    }
    try {
      api = await this.client.get<Pod>(podPath(namespace, name));
    } catch (err) {
      if (isNotFound(err)) return isStatic ? 'no-mirror' : 'gone';
      throw err;
    }
    if (isStatic) return isMirrorPodOf(api, pod) ? targetOf(api) : 'no-mirror';
    return api.metadata.uid === pod.metadata.uid ? targetOf(api) : 'gone';
  }

  private async syncPod(entry: PodEntry): Promise<SyncOutcome> {
    const uid = this.uidOf(entry);
    const key = podKey(entry.pod);
    const version = entry.version;
    const fresh = entry.reconcile;
    entry.reconcile = false;
    if (entry.gone) return 'done';
    try {
      const target = await this.findTarget(entry, fresh);
      if (target === 'gone') {
        this.log.debug({ pod: key, uid }, 'pod object is gone from the apiserver; dropping its status');
        this.dropGone(uid, entry);
        return 'done';
      }
      if (target === 'no-mirror') {
        this.log.debug({ pod: key, uid }, 'static pod has no mirror pod yet; its status waits for it');
        return 'done';
      }
      const deletionTimestamp = target.deletionTimestamp ?? entry.pod.metadata.deletionTimestamp;
      const finishing = entry.finished && deletionTimestamp !== undefined;
      if (entry.finished && !finishing) {
        this.log.debug({ pod: key, uid }, 'pod finished without a pending deletion; forgetting its status');
        this.forgetPod(uid);
        return 'done';
      }
      const desired = finishing ? terminalStatus(entry.pod, entry.status) : entry.status;
      const merged = mergeWithApiStatus(target.status, desired);
      const patch = statusPatch(target.uid, target.status, merged);
      let apiPod: Pod | undefined;
      if (patch) {
        apiPod = await this.client.patch<Pod>(podPath(target.namespace, target.name, 'status'), patch, 'strategic');
        this.patches.set(uid, (this.patches.get(uid) ?? 0) + 1);
        this.totalPatches++;
        this.log.debug({ pod: key, uid, phase: merged.phase }, 'pod status sent');
      }
      entry.apiUid = target.uid;
      entry.apiStatus = apiPod ? apiPod.status : target.status;
      entry.apiResourceVersion = apiPod ? apiPod.metadata.resourceVersion : target.resourceVersion;
      entry.sentVersion = Math.max(entry.sentVersion, version);
      if (finishing) return await this.finalDelete(entry, target, apiPod);
      return 'done';
    } catch (err) {
      return this.afterError(entry, version, err);
    }
  }

  private async finalDelete(entry: PodEntry, target: ApiTarget, patched: Pod | undefined): Promise<SyncOutcome> {
    const uid = this.uidOf(entry);
    const apiPod: Pod = patched ?? {
      metadata: {
        uid: target.uid,
        name: target.name,
        namespace: target.namespace,
        deletionTimestamp: target.deletionTimestamp ?? entry.pod.metadata.deletionTimestamp,
      },
      spec: entry.pod.spec,
      status: entry.apiStatus ?? {},
    };
    if (!canBeDeleted(apiPod, true)) {
      // The terminal phase has not reached the server yet (refused?): try again later.
      this.log.warn({ pod: podKey(entry.pod), uid, phase: apiPod.status?.phase }, 'final delete waits for a terminal phase on the server');
      return 'retry';
    }
    try {
      await this.client.delete(podPath(target.namespace, target.name), { gracePeriodSeconds: 0, preconditions: { uid: target.uid } });
      this.totalDeletes++;
      this.log.info({ pod: podKey(entry.pod), uid }, 'pod terminated and removed from the apiserver');
    } catch (err) {
      // 404: already removed; 409: the name holds another pod now. Either way ours is gone.
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    this.forgetPod(uid);
    return 'done';
  }

  private dropGone(uid: string, entry: PodEntry): void {
    if (entry.finished) this.forgetPod(uid);
    else entry.gone = true;
  }

  private afterError(entry: PodEntry, version: number, err: unknown): SyncOutcome {
    const uid = this.uidOf(entry);
    const key = podKey(entry.pod);
    if (isNotFound(err) || isConflict(err)) {
      // 404 on the patch: deleted meanwhile; 409: the UID precondition failed, a new pod holds the name.
      this.log.debug({ pod: key, uid, err: (err as Error).message }, 'pod object is gone or replaced; dropping its status');
      this.dropGone(uid, entry);
      return 'done';
    }
    if (isRetryable(err)) {
      const level = entry.failures === 0 ? 'info' : 'debug';
      this.log[level]({ pod: key, uid, err: (err as Error).message }, 'status update failed; retrying with backoff');
      return 'retry';
    }
    // Refused for good (Invalid, Forbidden…): sending the same status again cannot help.
    this.log.error({ pod: key, uid, err: (err as Error).message }, 'apiserver refused the pod status; not retrying it');
    entry.refusedVersion = version;
    return 'done';
  }
}
