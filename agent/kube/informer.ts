// An informer: a reflector feeding a local cache (key `namespace/name`) and the
// handlers that react to changes. Every change reaches the handlers exactly once:
// a replayed event or a re-list of an unchanged object (same resourceVersion)
// produces nothing, objects that vanished while the watch was down are delivered
// as deletes after the re-list, and an object re-created under the same name
// (new UID) is a delete followed by an add.
import type { Logger } from '../log/logger.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import { changeFor, diffList, type CacheChange } from './cache-diff.js';
import { Reflector, type ListWatchClient, type ReflectorStore, type ReflectorTuning } from './reflector.js';
import type { CollectionRef } from './resource-path.js';
import { objectKey, type KubeObject } from './types.js';

export interface DeleteInfo {
  /**
   * True when the deletion was inferred (a re-list no longer had the object, or it
   * was re-created with a new UID): the object is its last known state.
   */
  finalStateUnknown: boolean;
}

export interface InformerHandlers<T> {
  onAdd?(object: T): void | Promise<void>;
  onUpdate?(oldObject: T, newObject: T): void | Promise<void>;
  onDelete?(object: T, info: DeleteInfo): void | Promise<void>;
}

export interface InformerOptions<T> extends ReflectorTuning {
  client: ListWatchClient;
  path: CollectionRef;
  fieldSelector?: string;
  labelSelector?: string;
  logger: Logger;
  clock?: Clock;
  handlers?: InformerHandlers<T>;
  /** Re-deliver onUpdate(obj, obj) for every cached object this often. Off by default. */
  resyncPeriodMs?: number;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlerSets: Array<InformerHandlers<T>> = [];
  private readonly reflector: Reflector<T>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly resyncPeriodMs: number | undefined;
  private resyncTimer: Timer | undefined;
  private synced = false;
  private stopped = false;
  private syncWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(options: InformerOptions<T>) {
    this.logger = options.logger;
    this.clock = options.clock ?? realClock;
    this.resyncPeriodMs = options.resyncPeriodMs;
    if (options.handlers) this.handlerSets.push(options.handlers);
    const store: ReflectorStore<T> = {
      replace: (items) => this.replace(items),
      apply: (type, object) => this.apply(type, object),
    };
    const { handlers: _handlers, resyncPeriodMs: _resync, ...reflectorOptions } = options;
    this.reflector = new Reflector<T>({ ...reflectorOptions, store });
  }

  /**
   * Adds handlers; when the cache already holds objects, the new handlers get an
   * onAdd for each first, so a late subscriber sees the same world. Returns a
   * function that removes them.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.handlerSets.push(handlers);
    for (const object of this.cache.values()) this.call(handlers, { type: 'add', object });
    return () => {
      const i = this.handlerSets.indexOf(handlers);
      if (i >= 0) this.handlerSets.splice(i, 1);
    };
  }

  start(): void {
    this.reflector.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    await this.reflector.stop();
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.reject(new Error('informer stopped before its first list'));
  }

  /** True once the first complete list reached the cache and the handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error('informer stopped before its first list'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(waiter);
    });
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** The cached object under `namespace/name` (or `name` for cluster-scoped kinds). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** The resourceVersion the informer is at. */
  get resourceVersion(): string | undefined {
    return this.reflector.resourceVersion;
  }

  /** Asks for a full re-list now. */
  relist(): void {
    this.reflector.relist();
  }

  private replace(items: T[]): void {
    const changes = diffList(this.cache, items);
    this.cache.clear();
    for (const item of items) this.cache.set(objectKey(item), item);
    this.deliver(changes);
    if (!this.synced) {
      this.synced = true;
      this.armResync();
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void {
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (type === 'DELETED') {
      // A delete of something never seen (or already removed) tells the handlers nothing.
      if (!old) return;
      this.cache.delete(key);
      this.deliver([{ type: 'delete', old: object, finalStateUnknown: false }]);
      return;
    }
    this.cache.set(key, object);
    this.deliver(changeFor(old, object));
  }

  private armResync(): void {
    if (this.resyncPeriodMs === undefined || this.resyncPeriodMs <= 0 || this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const object of this.cache.values()) this.deliver([{ type: 'update', old: object, object }]);
      this.armResync();
    }, this.resyncPeriodMs);
  }

  private deliver(changes: Array<CacheChange<T>>): void {
    for (const change of changes) {
      for (const handlers of [...this.handlerSets]) this.call(handlers, change);
    }
  }

  /** Runs one handler; a throwing or rejecting handler is logged and never stops the informer. */
  private call(handlers: InformerHandlers<T>, change: CacheChange<T>): void {
    const object = change.type === 'delete' ? change.old : change.object;
    const report = (err: unknown) => {
      this.logger.error({ err, object: objectKey(object), change: change.type }, 'informer handler failed');
    };
    try {
      let result: void | Promise<void> | undefined;
      if (change.type === 'add') result = handlers.onAdd?.(change.object);
      else if (change.type === 'update') result = handlers.onUpdate?.(change.old, change.object);
      else result = handlers.onDelete?.(change.old, { finalStateUnknown: change.finalStateUnknown });
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  }
}
