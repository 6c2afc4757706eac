// List-watch that stays correct when the network and the apiserver misbehave.
// Kubernetes watches are not persistent: the server ends them (timeoutSeconds),
// a restarted apiserver drops them, an old resourceVersion expires (410), and a
// half-dead TCP connection can leave a watch silent forever. So:
//   LIST (paginated) → WATCH from the list's resourceVersion, with bookmarks and a
//   randomised server timeout (5–10 min, as client-go);
//   stream closed or broken → WATCH again from the last version seen (bookmarks
//   advance it), so nothing is replayed and nothing is skipped;
//   410 Gone / Expired → full re-LIST; the store diffs it against its cache;
//   errors → capped exponential backoff with jitter (1 s → 30 s), then re-LIST;
//   nothing at all for `watchdogMs` (not even a bookmark) → restart the watch.
// All of it happens in one loop. restart() only records why and aborts the
// current watch, so a restart can never run twice or overlap another.
import type { Logger } from '../log/logger.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffPolicy } from '../api/backoff.js';
import type { ListOptions, WatchOptions } from './client.js';
import { ApiError, isApiError, isGone, WatchStreamError } from './errors.js';
import { resourcePath, type CollectionRef } from './resource-path.js';
import type { KubeObject, ListResult, WatchEvent } from './types.js';

/** The part of KubeClient a reflector needs (a fake can stand in for it). */
export interface ListWatchClient {
  list<T>(path: string, options?: ListOptions): Promise<ListResult<T>>;
  watch<T>(path: string, options?: WatchOptions, signal?: AbortSignal): AsyncIterable<WatchEvent<T>>;
}

/** Where a reflector delivers what it learns. */
export interface ReflectorStore<T> {
  /** The complete state at `resourceVersion`, after a (re-)list. */
  replace(items: T[], resourceVersion: string): void;
  /** One watch event. */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void;
}

export interface ReflectorTuning {
  /** Restart a watch that delivered nothing, not even a bookmark, for this long. Default 5 min. */
  watchdogMs?: number;
  /** Server-side watch timeout is drawn from [min, 2·min) seconds. Default 300. */
  minWatchTimeoutSeconds?: number;
  backoff?: Partial<BackoffPolicy>;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** Re-list everything this often even when watches are healthy. Off by default. */
  relistPeriodMs?: number;
  /** Source of jitter (tests make it deterministic). */
  random?: () => number;
}

export interface ReflectorOptions<T> extends ReflectorTuning {
  client: ListWatchClient;
  path: CollectionRef;
  fieldSelector?: string;
  labelSelector?: string;
  store: ReflectorStore<T>;
  logger: Logger;
  clock?: Clock;
}

export const DEFAULT_WATCHDOG_MS = 5 * 60_000;
export const DEFAULT_MIN_WATCH_TIMEOUT_SECONDS = 300;
/** A watch that ends sooner than this with no event counts as a failure (no hot loop). */
const SHORT_WATCH_MS = 1_000;

type RestartReason = 'watchdog' | 'relist';

interface WatchOutcome {
  next: 'watch' | 'list' | 'stop';
  /** Wait with backoff before the next step. */
  failed: boolean;
}

export class Reflector<T extends KubeObject> {
  private readonly client: ListWatchClient;
  private readonly path: string;
  private readonly store: ReflectorStore<T>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly watchdogMs: number;
  private readonly minWatchTimeoutSeconds: number;
  private readonly backoff: BackoffPolicy;
  private readonly pageSize: number;
  private readonly relistPeriodMs: number | undefined;
  private readonly random: () => number;
  private readonly fieldSelector: string | undefined;
  private readonly labelSelector: string | undefined;

  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private lastResourceVersion: string | undefined;
  /** Consecutive failures without progress; sets the backoff. */
  private failures = 0;
  /** A 410 came since the last watch that made progress (a second one backs off). */
  private goneWithoutProgress = false;
  private currentWatch: AbortController | undefined;
  private restartReason: RestartReason | undefined;
  private relistRequested = false;
  private lastActivity = 0;
  private watchdogTimer: Timer | undefined;
  private relistTimer: Timer | undefined;

  constructor(options: ReflectorOptions<T>) {
    this.client = options.client;
    this.path = resourcePath(options.path);
    this.store = options.store;
    this.fieldSelector = options.fieldSelector;
    this.labelSelector = options.labelSelector;
    this.clock = options.clock ?? realClock;
    this.watchdogMs = options.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    this.minWatchTimeoutSeconds = options.minWatchTimeoutSeconds ?? DEFAULT_MIN_WATCH_TIMEOUT_SECONDS;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.pageSize = options.pageSize ?? 500;
    this.relistPeriodMs = options.relistPeriodMs;
    this.random = options.random ?? Math.random;
    const selectors = [options.fieldSelector, options.labelSelector].filter(Boolean).join(' ');
    this.logger = options.logger.child({ watch: this.path + (selectors ? ` (${selectors})` : '') });
  }

  /** The version the next watch starts from: the last list's, advanced by every event and bookmark. */
  get resourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  start(): void {
    if (this.loop || this.stopper.signal.aborted) return;
    this.loop = this.run().catch((err: unknown) => {
      this.logger.error({ err }, 'list-watch loop failed');
    });
  }

  /** Ends the loop and any open watch; resolves once nothing runs any more. */
  async stop(): Promise<void> {
    this.stopper.abort(new Error('reflector stopped'));
    this.relistTimer?.cancel();
    this.watchdogTimer?.cancel();
    await this.loop;
  }

  /** Asks for a full re-list as soon as possible (coalesced with any pending one). */
  relist(): void {
    this.restart('relist');
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private restart(reason: RestartReason): void {
    if (this.stopped) return;
    if (reason === 'relist') this.relistRequested = true;
    // A relist outranks a plain re-watch; abort() on an aborted controller is a no-op.
    if (this.restartReason !== 'relist') this.restartReason = reason;
    this.currentWatch?.abort(new Error(`watch restarted: ${reason}`));
  }

  private async run(): Promise<void> {
    let needList = true;
    let delayMs = 0;
    while (!this.stopped) {
      if (delayMs > 0) {
        this.logger.debug({ delayMs, failures: this.failures }, 'backing off');
        try {
          await sleep(this.clock, delayMs, this.stopper.signal);
        } catch {
          break;
        }
      }
      delayMs = 0;
      if (needList || this.relistRequested) {
        this.relistRequested = false;
        try {
          await this.listOnce();
          needList = false;
        } catch (err) {
          if (this.stopped) break;
          this.failures++;
          delayMs = backoffDelay(this.failures, this.backoff, this.random);
          this.logger.warn({ err: (err as Error).message, retryInMs: delayMs }, 'list failed');
          continue;
        }
      }
      const outcome = await this.watchOnce();
      if (outcome.next === 'stop') break;
      needList = outcome.next === 'list';
      if (outcome.failed) {
        this.failures++;
        delayMs = backoffDelay(this.failures, this.backoff, this.random);
      }
    }
  }

  private async listOnce(): Promise<void> {
    const list = await this.client.list<T>(this.path, {
      limit: this.pageSize,
      signal: this.stopper.signal,
      ...(this.fieldSelector ? { fieldSelector: this.fieldSelector } : {}),
      ...(this.labelSelector ? { labelSelector: this.labelSelector } : {}),
    });
    if (this.stopped) return;
    this.logger.debug({ items: list.items.length, resourceVersion: list.resourceVersion }, 'listed');
    this.lastResourceVersion = list.resourceVersion;
    this.store.replace(list.items, list.resourceVersion);
    this.armRelistTimer();
  }

  private armRelistTimer(): void {
    this.relistTimer?.cancel();
    if (this.relistPeriodMs === undefined || this.relistPeriodMs <= 0) return;
    this.relistTimer = this.clock.setTimeout(() => this.restart('relist'), this.relistPeriodMs);
  }

  private armWatchdog(): void {
    const check = () => {
      const idleMs = this.clock.now() - this.lastActivity;
      if (idleMs >= this.watchdogMs) {
        this.logger.warn({ idleMs }, 'watch silent for too long (no event, no bookmark); restarting it');
        this.restart('watchdog');
      } else {
        this.watchdogTimer = this.clock.setTimeout(check, this.watchdogMs - idleMs);
      }
    };
    this.watchdogTimer = this.clock.setTimeout(check, this.watchdogMs);
  }

  private async watchOnce(): Promise<WatchOutcome> {
    const watch = new AbortController();
    const onStop = () => watch.abort(this.stopper.signal.reason);
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    this.currentWatch = watch;
    this.restartReason = undefined;
    // A relist asked for while we were listing or backing off: do it now.
    if (this.relistRequested) watch.abort(new Error('watch restarted: relist'));
    const startedAt = this.clock.now();
    this.lastActivity = startedAt;
    this.armWatchdog();
    let events = 0;
    const timeoutSeconds = Math.floor(this.minWatchTimeoutSeconds * (1 + this.random()));
    try {
      const stream = this.client.watch<T>(
        this.path,
        {
          ...(this.lastResourceVersion ? { resourceVersion: this.lastResourceVersion } : {}),
          ...(this.fieldSelector ? { fieldSelector: this.fieldSelector } : {}),
          ...(this.labelSelector ? { labelSelector: this.labelSelector } : {}),
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        watch.signal,
      );
      for await (const event of stream) {
        this.lastActivity = this.clock.now();
        if (event.type === 'ERROR') throw ApiError.fromStatus('GET', this.path, event.object);
        if (event.type !== 'BOOKMARK') this.store.apply(event.type, event.object);
        const rv = event.object.metadata?.resourceVersion;
        if (rv) this.lastResourceVersion = rv;
        if (events++ === 0) {
          this.failures = 0;
          this.goneWithoutProgress = false;
        }
      }
      if (events === 0 && this.clock.now() - startedAt < SHORT_WATCH_MS) {
        this.logger.debug('watch closed at once without events');
        return { next: 'watch', failed: true };
      }
      this.logger.debug({ events, resourceVersion: this.lastResourceVersion }, 'watch closed; watching again');
      return { next: 'watch', failed: false };
    } catch (err) {
      return this.afterWatchError(err, watch, events);
    } finally {
      this.watchdogTimer?.cancel();
      this.watchdogTimer = undefined;
      this.currentWatch = undefined;
      this.stopper.signal.removeEventListener('abort', onStop);
    }
  }

  private afterWatchError(err: unknown, watch: AbortController, events: number): WatchOutcome {
    if (this.stopped) return { next: 'stop', failed: false };
    if (watch.signal.aborted) {
      const reason = this.relistRequested ? 'relist' : (this.restartReason ?? 'watchdog');
      this.logger.debug({ reason }, 'watch restarted');
      return { next: reason === 'relist' ? 'list' : 'watch', failed: false };
    }
    if (isGone(err)) {
      // The version we hold is too old for the server: start again from a full list.
      // Right away after a healthy watch; with backoff when it keeps happening.
      this.logger.info({ resourceVersion: this.lastResourceVersion }, 'watch expired (410); re-listing');
      const repeated = this.goneWithoutProgress;
      this.goneWithoutProgress = true;
      return { next: 'list', failed: repeated };
    }
    const message = (err as Error).message;
    if (err instanceof WatchStreamError) {
      this.logger.info({ err: message, resourceVersion: this.lastResourceVersion }, 'watch stream broke; watching again from the last version');
      return { next: 'watch', failed: events === 0 };
    }
    if (isApiError(err, 429)) {
      this.logger.warn({ err: message }, 'watch throttled; retrying');
      return { next: 'watch', failed: true };
    }
    this.logger.warn({ err: message }, 'watch failed; re-listing after backoff');
    return { next: 'list', failed: true };
  }
}
