// Mirror pods, as kubelet keeps them (pkg/kubelet/pod/mirror_client.go and the
// mirror part of syncPod): every static pod gets a read-only copy in the apiserver
// so the cluster sees it. The mirror has the static pod's name, namespace, labels
// and spec, the annotation kubernetes.io/config.mirror = the static pod's content
// hash, and the Node as controlling owner (so it is garbage collected with the
// Node). A mirror with another hash (the manifest changed) or with a deletion
// pending is deleted and created again; a mirror whose static pod is gone is
// deleted; a mirror deleted by someone is created again on the next sync.
// Deletes carry the mirror's UID as precondition, so a pod re-created meanwhile
// under the same name is never hit.
import type { Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import { backoffDelay, type BackoffPolicy } from '../api/backoff.js';
import type { CallOptions } from '../kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.js';
import { resourcePath } from '../kube/resource-path.js';
import type { DeleteOptions } from '../kube/types.js';
import type { Logger } from '../log/logger.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import { ANNOTATION_CONFIG_MIRROR, isMirrorPodOf, isStaticPod, staticPodHash } from '../api/pod-identity.js';

/** The part of KubeClient mirror pods need. */
export interface MirrorPodClient {
  get<T>(path: string, options?: CallOptions): Promise<T>;
  create<T>(path: string, body: unknown, options?: CallOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: DeleteOptions & CallOptions): Promise<T>;
}

export interface MirrorPodManagerOptions {
  client: MirrorPodClient;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** The Node's UID for the owner reference. Default: read the Node from the apiserver. */
  nodeUID?: () => Promise<string>;
  /** Retry delays after a failed sync. Default 1 s doubling to 30 s. */
  backoff?: Partial<BackoffPolicy>;
}

/** What a sync did, for logs and tests. */
export interface MirrorSyncResult {
  created: string[];
  deleted: string[];
  failed: string[];
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, jitter: 0.2 };

/** The mirror pod kubelet would create for `staticPod` (pure). */
export function buildMirrorPod(staticPod: Pod, nodeName: string, nodeUID: string): Pod {
  const hash = staticPodHash(staticPod) ?? '';
  const spec = structuredClone(staticPod.spec);
  spec.nodeName = nodeName;
  const metadata: Pod['metadata'] = {
    name: staticPod.metadata.name,
    namespace: staticPod.metadata.namespace ?? 'default',
    annotations: { ...staticPod.metadata.annotations, [ANNOTATION_CONFIG_MIRROR]: hash },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUID, controller: true }],
  };
  if (staticPod.metadata.labels) metadata.labels = { ...staticPod.metadata.labels };
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

function podsPath(namespace: string, name?: string): string {
  return resourcePath({ version: 'v1', resource: 'pods', namespace, ...(name ? { name } : {}) });
}

export class MirrorPodManager {
  private readonly client: MirrorPodClient;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly nodeUIDSource: () => Promise<string>;
  private pendingArgs: { staticPods: Pod[]; mirrorPods: Pod[] } | undefined;
  private running: Promise<void> | undefined;
  private retryTimer: Timer | undefined;
  private failures = 0;
  private stopped = false;
  /** Result of the last completed pass. */
  lastResult: MirrorSyncResult = { created: [], deleted: [], failed: [] };

  constructor(options: MirrorPodManagerOptions) {
    this.client = options.client;
    this.nodeName = options.nodeName;
    this.log = options.logger.child({ component: 'mirror-pods' });
    this.clock = options.clock ?? realClock;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.nodeUIDSource = options.nodeUID ?? (() => this.readNodeUID());
  }

  /**
   * Brings the mirror pods in line with the static pods. `staticPods` may hold any
   * desired pods (non-static ones are skipped); `mirrorPods` are the mirror pods the
   * informer sees on this node. Calls during a pass are folded into one more pass
   * with the latest arguments; a failed pass is retried with backoff. Never throws.
   */
  sync(staticPods: readonly Pod[], mirrorPods: readonly Pod[]): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.pendingArgs = { staticPods: staticPods.filter(isStaticPod), mirrorPods: [...mirrorPods] };
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.running ??= this.run();
    return this.running;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    try {
      let lastArgs: { staticPods: Pod[]; mirrorPods: Pod[] } | undefined;
      let result: MirrorSyncResult = { created: [], deleted: [], failed: [] };
      while (this.pendingArgs && !this.stopped) {
        lastArgs = this.pendingArgs;
        this.pendingArgs = undefined;
        result = await this.pass(lastArgs.staticPods, lastArgs.mirrorPods);
        this.lastResult = result;
      }
      if (result.failed.length > 0 && lastArgs && !this.stopped) this.scheduleRetry(lastArgs);
      else this.failures = 0;
    } finally {
      this.running = undefined;
    }
  }

  private scheduleRetry(args: { staticPods: Pod[]; mirrorPods: Pod[] }): void {
    this.failures++;
    const delayMs = backoffDelay(this.failures, this.backoff);
    this.log.debug({ delayMs, failures: this.failures }, 'mirror pod sync failed; retrying');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.sync(args.staticPods, args.mirrorPods);
    }, delayMs);
  }

  private async pass(staticPods: Pod[], mirrorPods: Pod[]): Promise<MirrorSyncResult> {
    const result: MirrorSyncResult = { created: [], deleted: [], failed: [] };
    const mirrorsByKey = new Map(mirrorPods.map((m) => [podKey(m), m]));
    const wanted = new Set<string>();
    for (const pod of staticPods) {
      const key = podKey(pod);
      wanted.add(key);
      const mirror = mirrorsByKey.get(key);
      try {
        if (mirror && isMirrorPodOf(mirror, pod) && !mirror.metadata.deletionTimestamp) continue;
        if (mirror) {
          const why = mirror.metadata.deletionTimestamp ? 'it is being deleted' : 'the static pod changed';
          this.log.info({ pod: key, uid: mirror.metadata.uid }, `deleting mirror pod: ${why}`);
          await this.deleteMirror(mirror);
          result.deleted.push(key);
        }
        if (await this.createMirror(pod)) result.created.push(key);
      } catch (err) {
        result.failed.push(key);
        this.log.warn({ pod: key, err: (err as Error).message }, 'mirror pod sync failed');
      }
    }
    for (const [key, mirror] of mirrorsByKey) {
      if (wanted.has(key)) continue;
      try {
        this.log.info({ pod: key, uid: mirror.metadata.uid }, 'deleting mirror pod whose static pod is gone');
        await this.deleteMirror(mirror);
        result.deleted.push(key);
      } catch (err) {
        result.failed.push(key);
        this.log.warn({ pod: key, err: (err as Error).message }, 'deleting orphaned mirror pod failed');
      }
    }
    return result;
  }

  /** Creates the mirror; false when a current one already exists (our informer was behind). */
  private async createMirror(pod: Pod): Promise<boolean> {
    const namespace = pod.metadata.namespace ?? 'default';
    const body = buildMirrorPod(pod, this.nodeName, await this.nodeUIDSource());
    try {
      await this.client.create<Pod>(podsPath(namespace), body);
      this.log.info({ pod: podKey(pod), uid: pod.metadata.uid }, 'created mirror pod');
      return true;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await this.client.get<Pod>(podsPath(namespace, pod.metadata.name ?? ''));
      if (isMirrorPodOf(existing, pod) && !existing.metadata.deletionTimestamp) return false;
      throw new Error(
        `pod ${podKey(pod)} exists in the apiserver and is not the current mirror of the static pod (uid ${existing.metadata.uid}); it is deleted and re-created on the next sync`,
        { cause: err },
      );
    }
  }

  /** Deletes at once (grace 0) with the mirror's UID as precondition; gone already is fine. */
  private async deleteMirror(mirror: Pod): Promise<void> {
    const uid = mirror.metadata.uid;
    try {
      await this.client.delete(podsPath(mirror.metadata.namespace ?? 'default', mirror.metadata.name ?? ''), {
        gracePeriodSeconds: 0,
        ...(uid ? { preconditions: { uid } } : {}),
      });
    } catch (err) {
      // 404: already gone; 409: the name now holds another pod, which is not ours to delete.
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  private async readNodeUID(): Promise<string> {
    const node = await this.client.get<{ metadata?: { uid?: string } }>(resourcePath({ version: 'v1', resource: 'nodes', name: this.nodeName }));
    const uid = node?.metadata?.uid;
    if (!uid) throw new Error(`node ${this.nodeName} has no metadata.uid; cannot own mirror pods`);
    return uid;
  }
}
