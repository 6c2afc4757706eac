// The joined-node pod source: every pod the apiserver binds to this node, watched
// with `fieldSelector=spec.nodeName=<node>` through an informer (list, watch,
// re-watch, re-list on 410, backoff). Each change after the first list yields the
// full snapshot again, bursts folded into one delivery. Mirror pods are the
// apiserver's shadows of our own static pods, not pods to run: they stay out of
// the snapshot and are offered separately (mirrorPods, getPod, onPodChange).
// While the apiserver is unreachable the informer keeps its cache, so the last
// snapshot stands: an outage never looks like "every pod was deleted".
import type { Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import { formatFieldErrors } from '../api/validation/field-errors.js';
import { Informer } from '../kube/informer.js';
import type { ListWatchClient, ReflectorTuning } from '../kube/reflector.js';
import type { Logger } from '../log/logger.js';
import type { ApiPodCache } from '../status/api-pod-cache.js';
import { isMirrorPod } from '../api/pod-identity.js';
import { KUBELET_CONDITION_TYPES } from '../status/status-diff.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import { validatePod } from './pod-validation.js';
import type { PodSource, PodSourceUpdate } from './types.js';

export interface ApiserverPodSourceOptions {
  client: ListWatchClient;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** Changes closer together than this are delivered as one snapshot. Default 50 ms. */
  coalesceMs?: number;
  /** Reflector tuning (backoff, watchdog, watch timeout), mainly for tests. */
  tuning?: ReflectorTuning;
}

/** A pod the apiserver holds for this node that does not pass validation. */
export interface InvalidApiPod {
  pod: Pod;
  message: string;
}

const DEFAULT_COALESCE_MS = 50;

/**
 * What about a pod matters to the pod manager: a snapshot that differs only in
 * status fields the node writes itself (our own status patches come back as
 * watch events) is not delivered again.
 */
function podFingerprint(pod: Pod): string {
  const m = pod.metadata;
  const others = (pod.status?.conditions ?? []).filter((c) => !KUBELET_CONDITION_TYPES.has(c.type));
  return JSON.stringify([
    m.uid,
    m.labels,
    m.annotations,
    m.deletionTimestamp,
    m.deletionGracePeriodSeconds,
    m.generation,
    pod.spec,
    others.map((c) => [c.type, c.status]),
  ]);
}

export class ApiserverPodSource implements PodSource, ApiPodCache {
  private readonly informer: Informer<Pod>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly coalesceMs: number;
  private onUpdate: ((update: PodSourceUpdate) => void) | undefined;
  private readonly listeners = new Set<(pod: Pod, deleted: boolean) => void>();
  private removeHandlers: (() => void) | undefined;
  private timer: Timer | undefined;
  private started = false;
  private stopped = false;
  private lastFingerprint: string | undefined;
  private invalid = new Map<string, InvalidApiPod>();
  /** `uid@resourceVersion` of invalid pods already logged. */
  private loggedInvalid = new Set<string>();

  constructor(options: ApiserverPodSourceOptions) {
    this.log = options.logger.child({ source: 'api' });
    this.clock = options.clock ?? realClock;
    this.coalesceMs = options.coalesceMs ?? DEFAULT_COALESCE_MS;
    this.informer = new Informer<Pod>({
      client: options.client,
      path: { version: 'v1', resource: 'pods' },
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      logger: this.log,
      clock: this.clock,
      ...options.tuning,
    });
  }

  /** Resolves after the first snapshot was delivered (or when stopped before the first list). */
  async start(onUpdate: (update: PodSourceUpdate) => void): Promise<void> {
    if (this.started) throw new Error('apiserver pod source already started');
    this.started = true;
    this.onUpdate = onUpdate;
    this.removeHandlers = this.informer.addHandlers({
      onAdd: (pod) => this.changed(pod, false),
      onUpdate: (_old, pod) => this.changed(pod, false),
      onDelete: (pod) => this.changed(pod, true),
    });
    this.informer.start();
    try {
      await this.informer.waitForSync();
    } catch (err) {
      if (this.stopped) return;
      throw err;
    }
    this.deliver(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.removeHandlers?.();
    await this.informer.stop();
  }

  hasSynced(): boolean {
    return this.informer.hasSynced();
  }

  getPod(namespace: string, name: string): Pod | undefined {
    return this.informer.get(`${namespace}/${name}`);
  }

  onPodChange(listener: (pod: Pod, deleted: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The mirror pods bound to this node (the input of MirrorPodManager.sync). */
  mirrorPods(): Pod[] {
    return this.informer.list().filter(isMirrorPod);
  }

  /** Pods left out of the snapshot because they fail validation, with the reason. */
  invalidPods(): InvalidApiPod[] {
    return [...this.invalid.values()];
  }

  /** Forces a re-list now (after a long outage an operator may want it). */
  relist(): void {
    this.informer.relist();
  }

  private changed(pod: Pod, deleted: boolean): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(pod, deleted);
      } catch (err) {
        this.log.error({ err, pod: podKey(pod) }, 'pod change listener failed');
      }
    }
    if (!this.informer.hasSynced() || this.stopped || this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.deliver(false);
    }, this.coalesceMs);
  }

  private snapshot(): Pod[] {
    const pods: Pod[] = [];
    const invalid = new Map<string, InvalidApiPod>();
    for (const pod of this.informer.list()) {
      if (isMirrorPod(pod)) continue;
      const errors = validatePod(pod);
      if (errors.length > 0) {
        const message = formatFieldErrors('Pod', pod.metadata.name ?? '', errors);
        invalid.set(pod.metadata.uid ?? podKey(pod), { pod, message });
        const logKey = `${pod.metadata.uid}@${pod.metadata.resourceVersion}`;
        if (!this.loggedInvalid.has(logKey)) {
          this.loggedInvalid.add(logKey);
          this.log.warn(
            { pod: podKey(pod), uid: pod.metadata.uid, field: errors.map((e) => e.field).join(', ') },
            `ignoring pod from the apiserver that this node cannot run: ${message}`,
          );
        }
        continue;
      }
      pods.push(pod);
    }
    this.invalid = invalid;
    // Forget log marks of pods that are gone or fixed, so the set stays small.
    const current = new Set([...invalid.values()].map((i) => `${i.pod.metadata.uid}@${i.pod.metadata.resourceVersion}`));
    for (const key of this.loggedInvalid) if (!current.has(key)) this.loggedInvalid.delete(key);
    pods.sort((a, b) => podKey(a).localeCompare(podKey(b)));
    return pods;
  }

  private deliver(force: boolean): void {
    if (this.stopped) return;
    const pods = this.snapshot();
    const fingerprint = JSON.stringify(pods.map(podFingerprint));
    if (!force && fingerprint === this.lastFingerprint) return;
    this.lastFingerprint = fingerprint;
    this.log.debug({ pods: pods.length }, 'apiserver pod snapshot');
    try {
      this.onUpdate?.({ pods, rejected: [] });
    } catch (err) {
      this.log.error({ err }, 'pod update handler failed');
    }
  }
}
