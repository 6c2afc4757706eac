// Pod events posted to the apiserver as core/v1 Events, the way client-go's
// recorder does it for kubelet:
//   - the same (pod, type, reason, message) again is not a new Event: the existing
//     one gets its count and lastTimestamp patched;
//   - a token bucket per pod (burst 25, one token back every 5 minutes: client-go's
//     EventSourceObjectSpamFilter) drops what a crash loop would flood the server
//     with; a dropped repeat still counts, so the next patch carries the true count;
//   - posting happens in the background, one request at a time, with retries when
//     the server is unreachable; record() never blocks and never throws;
//   - every event also goes to the wrapped recorder (the log), filtered or not.
// Events of a static pod name its mirror pod (when there is one), the object the
// cluster can see.
import type { Pod } from '../api/types.js';
import { formatTime } from '../api/time.js';
import { podKey } from '../api/types.js';
import type { CallOptions, PatchType } from '../kube/client.js';
import { isAlreadyExists, isNotFound, isRetryable } from '../kube/errors.js';
import { RateLimiter } from '../kube/rate-limiter.js';
import { resourcePath } from '../kube/resource-path.js';
import type { Logger } from '../log/logger.js';
import type { ApiPodCache } from '../status/api-pod-cache.js';
import { isMirrorPodOf, isStaticPod } from '../api/pod-identity.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import type { EventRecorder, EventType } from './event-recorder.js';

/** The part of KubeClient events need. */
export interface EventClient {
  create<T>(path: string, body: unknown, options?: CallOptions): Promise<T>;
  patch<T>(path: string, patch: unknown, type: PatchType, options?: CallOptions): Promise<T>;
}

export interface ApiEventRecorderOptions {
  client: EventClient;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** Also gets every event (the logging recorder). */
  next?: EventRecorder;
  /** To find the mirror pod of a static pod. */
  pods?: Pick<ApiPodCache, 'getPod'>;
  /** Spam filter: events an object may have at once. Default 25. */
  burst?: number;
  /** Spam filter: one more event allowed per this period. Default 5 minutes. */
  refillPeriodMs?: number;
  /** Attempts per request while the server is unreachable. Default 12 (client-go). */
  maxTries?: number;
  /** Pause between attempts. Default 10 s (client-go). */
  retryDelayMs?: number;
  /** Events remembered for aggregation, and objects tracked by the spam filter. Default 4096. */
  cacheSize?: number;
  /** Requests waiting to be sent; beyond it new ones are dropped. Default 1000. */
  queueLimit?: number;
}

export const EVENT_SOURCE_COMPONENT = 'nodelet';

/** The core/v1 Event fields the recorder writes. */
export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  involvedObject: { kind: 'Pod'; namespace: string; name: string; uid: string; apiVersion: 'v1' };
  reason: string;
  message: string;
  type: EventType;
  source: { component: string; host: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  reportingComponent: string;
  reportingInstance: string;
}

interface Involved {
  namespace: string;
  name: string;
  uid: string;
}

interface AggregateState {
  event: CoreEvent;
  /** The count the server has (0 before the create succeeded). */
  sentCount: number;
  /** A request for this event is queued or in flight. */
  pending: boolean;
}

interface Operation {
  key: string;
  tries: number;
}

/** A Map used as an LRU: get() refreshes, set() evicts the oldest beyond `capacity`. */
class LruMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
}

export class ApiEventRecorder implements EventRecorder {
  private readonly client: EventClient;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly next: EventRecorder | undefined;
  private readonly pods: Pick<ApiPodCache, 'getPod'> | undefined;
  private readonly burst: number;
  private readonly refillPeriodMs: number;
  private readonly maxTries: number;
  private readonly retryDelayMs: number;
  private readonly queueLimit: number;
  private readonly aggregates: LruMap<AggregateState>;
  private readonly buckets: LruMap<RateLimiter>;
  private readonly queue: Operation[] = [];
  private pump: Promise<void> | undefined;
  private sleepTimer: { timer: Timer; wake: () => void } | undefined;
  private sequence = 0;
  private stopped = false;
  private droppedBySpamFilter = 0;
  private droppedByQueue = 0;

  constructor(options: ApiEventRecorderOptions) {
    this.client = options.client;
    this.nodeName = options.nodeName;
    this.log = options.logger.child({ component: 'events' });
    this.clock = options.clock ?? realClock;
    this.next = options.next;
    this.pods = options.pods;
    this.burst = options.burst ?? 25;
    this.refillPeriodMs = options.refillPeriodMs ?? 5 * 60_000;
    this.maxTries = options.maxTries ?? 12;
    this.retryDelayMs = options.retryDelayMs ?? 10_000;
    this.queueLimit = options.queueLimit ?? 1000;
    const cacheSize = options.cacheSize ?? 4096;
    this.aggregates = new LruMap(cacheSize);
    this.buckets = new LruMap(cacheSize);
  }

  record(pod: Pod, type: EventType, reason: string, message: string): void {
    try {
      this.next?.record(pod, type, reason, message);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'wrapped event recorder failed');
    }
    if (this.stopped) return;
    try {
      this.observe(pod, type, reason, message);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, pod: podKey(pod), reason }, 'cannot record event');
    }
  }

  /** Counts of events not sent: over the per-object limit, or over the queue limit. */
  stats(): { droppedBySpamFilter: number; droppedByQueue: number; queued: number } {
    return { droppedBySpamFilter: this.droppedBySpamFilter, droppedByQueue: this.droppedByQueue, queued: this.queue.length };
  }

  /** Resolves when every queued request was sent (or given up); for tests and shutdown. */
  async flush(): Promise<void> {
    while (this.pump) await this.pump;
  }

  /** Drops what is still queued; resolves when the request in flight is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.sleepTimer?.wake();
    await this.pump;
  }

  /** The object the event is about: for a static pod its mirror, once it exists. */
  private involved(pod: Pod): Involved {
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    let uid = pod.metadata.uid ?? '';
    if (isStaticPod(pod)) {
      const mirror = this.pods?.getPod(namespace, name);
      if (mirror && isMirrorPodOf(mirror, pod) && mirror.metadata.uid) uid = mirror.metadata.uid;
    }
    return { namespace, name, uid };
  }

  private observe(pod: Pod, type: EventType, reason: string, message: string): void {
    const obj = this.involved(pod);
    const objectKey = `${obj.namespace}\u0000${obj.name}\u0000${obj.uid}`;
    const key = `${objectKey}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = this.clock.now();
    let state = this.aggregates.get(key);
    if (state) {
      state.event.count++;
      state.event.lastTimestamp = formatTime(now);
    } else {
      state = { event: this.newEvent(obj, type, reason, message, now), sentCount: 0, pending: false };
      this.aggregates.set(key, state);
    }
    if (!this.allow(objectKey)) {
      this.droppedBySpamFilter++;
      this.log.debug({ pod: `${obj.namespace}/${obj.name}`, reason }, 'event over the per-object rate limit; not sent');
      return;
    }
    this.enqueue(key, state);
  }

  private allow(objectKey: string): boolean {
    let bucket = this.buckets.get(objectKey);
    if (!bucket) {
      bucket = new RateLimiter({ qps: 1000 / this.refillPeriodMs, burst: this.burst, clock: this.clock });
      this.buckets.set(objectKey, bucket);
    }
    return bucket.tryAcquire();
  }

  private newEvent(obj: Involved, type: EventType, reason: string, message: string, now: number): CoreEvent {
    // client-go names events <object>.<unix nanoseconds in hex>; a sequence keeps names unique within a millisecond.
    const suffix = (BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16);
    const at = formatTime(now);
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${obj.name}.${suffix}`, namespace: obj.namespace },
      involvedObject: { kind: 'Pod', namespace: obj.namespace, name: obj.name, uid: obj.uid, apiVersion: 'v1' },
      reason,
      message,
      type,
      source: { component: EVENT_SOURCE_COMPONENT, host: this.nodeName },
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
      reportingComponent: EVENT_SOURCE_COMPONENT,
      reportingInstance: this.nodeName,
    };
  }

  /** One queued request per event at most: it sends the latest count when its turn comes. */
  private enqueue(key: string, state: AggregateState): void {
    if (state.pending) return;
    if (this.queue.length >= this.queueLimit) {
      if (this.droppedByQueue++ === 0) this.log.warn({ limit: this.queueLimit }, 'event queue full; dropping events until it drains');
      return;
    }
    state.pending = true;
    this.queue.push({ key, tries: 0 });
    this.kick();
  }

  private kick(): void {
    if (this.pump || this.stopped) return;
    this.pump = this.drain().finally(() => {
      this.pump = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      // Let the caller's synchronous burst land first: its repeats go out as one request.
      await Promise.resolve();
      const op = this.queue.shift();
      if (!op) return;
      const state = this.aggregates.get(op.key);
      if (!state) continue;
      const outcome = await this.send(state);
      if (outcome === 'retry' && ++op.tries < this.maxTries && !this.stopped) {
        this.queue.unshift(op);
        await this.pause(this.retryDelayMs);
        continue;
      }
      state.pending = false;
      if (outcome === 'retry') {
        this.log.warn({ event: state.event.metadata.name, reason: state.event.reason, tries: op.tries }, 'apiserver unreachable; event dropped');
      } else if (state.event.count > state.sentCount && !this.stopped) {
        // More repeats came in while this request was in flight.
        this.enqueue(op.key, state);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepTimer?.timer.cancel();
        this.sleepTimer = undefined;
        resolve();
      };
      this.sleepTimer = { timer: this.clock.setTimeout(wake, ms), wake };
    });
  }

  private eventsPath(namespace: string, name?: string): string {
    return resourcePath({ version: 'v1', resource: 'events', namespace, ...(name ? { name } : {}) });
  }

  /** Creates the event, or patches its count; 'retry' when the server could not be reached. */
  private async send(state: AggregateState): Promise<'done' | 'retry'> {
    const event = state.event;
    const count = event.count;
    try {
      if (state.sentCount === 0) {
        await this.create(event);
      } else {
        try {
          await this.client.patch(this.eventsPath(event.metadata.namespace, event.metadata.name), { count, lastTimestamp: event.lastTimestamp }, 'strategic');
        } catch (err) {
          // Events expire (TTL): one that is gone is created again, as client-go does.
          if (!isNotFound(err)) throw err;
          await this.create(event);
        }
      }
      state.sentCount = count;
      return 'done';
    } catch (err) {
      if (isRetryable(err)) return 'retry';
      // Refused (Invalid, Forbidden, namespace terminating…): client-go does not retry these.
      this.log.warn({ event: event.metadata.name, reason: event.reason, err: (err as Error).message }, 'apiserver refused event; not retrying');
      state.sentCount = count;
      return 'done';
    }
  }

  private async create(event: CoreEvent): Promise<void> {
    try {
      const { resourceVersion: _rv, ...metadata } = event.metadata;
      await this.client.create(this.eventsPath(event.metadata.namespace), { ...event, metadata });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
