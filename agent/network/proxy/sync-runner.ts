// When the proxy syncs: kube-proxy's BoundedFrequencyRunner. Requests coalesce into
// one sync; two syncs never start closer than minIntervalMs (a burst of Endpoint
// changes costs one restore, not hundreds); a sync runs at least every maxIntervalMs
// even when nothing asks (drift repair), and it is a full one at least every
// fullIntervalMs; a failed sync is retried with doubling backoff, and the retry is
// full. Syncs never overlap.
import { backoffDelay } from '../../api/backoff.js';
import type { Clock, Timer } from '../../api/clock.js';

export type SyncKind = 'full' | 'partial';

export interface SyncRunnerOptions {
  clock: Clock;
  /** Shortest time between the starts of two syncs (kube-proxy --iptables-min-sync-period, 1 s). */
  minIntervalMs: number;
  /** Longest time between two syncs (kube-proxy --iptables-sync-period, 30 s). */
  maxIntervalMs: number;
  /**
   * Longest time between two full syncs; default maxIntervalMs. kube-proxy forces one
   * an hour: at 10,000 Services a full sync costs seconds, the periodic partial one a
   * fraction of that, and the backends' own checks (the iptables canary) ask for a full
   * one when the kernel's copy was tampered with.
   */
  fullIntervalMs?: number;
  /** One sync. `full`: rewrite everything. Rejects on failure. */
  sync: (full: boolean) => Promise<void>;
  /** Delay before the first retry after a failure; doubles per failure up to maxIntervalMs. Default max(minIntervalMs, 1 s). */
  retryInitialMs?: number;
  /** Told about each failure (the Proxier logs and counts them). */
  onFailure?: (err: unknown, consecutiveFailures: number, retryInMs: number) => void;
}

export class SyncRunner {
  private readonly clock: Clock;
  private started = false;
  private stopped = false;
  private running = false;
  private inFlight?: Promise<void>;
  private pending = false;
  private timer?: Timer;
  private timerAt = Infinity;
  private lastStartAt?: number;
  private lastFullAt?: number;
  private needFull = true;
  private failures = 0;
  private retryAt = 0;

  constructor(private readonly options: SyncRunnerOptions) {
    this.clock = options.clock;
  }

  /** The first sync (always full) now; until start() requests only accumulate. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.clock.now());
  }

  /** Asks for a sync soon (a partial one unless a full is due). */
  request(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.schedule(this.earliestAllowed());
  }

  /** Asks for a full sync soon. */
  requestFull(): void {
    this.needFull = true;
    this.request();
  }

  /** No sync starts after this; resolves when the one in flight (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    await this.inFlight;
  }

  /** Failed syncs since the last one that succeeded. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  private earliestAllowed(): number {
    const now = this.clock.now();
    const afterMin = this.lastStartAt === undefined ? now : this.lastStartAt + this.options.minIntervalMs;
    return Math.max(now, afterMin, this.retryAt);
  }

  /** Keeps the earlier of the armed timer and `at`. */
  private schedule(at: number): void {
    if (this.stopped) return;
    if (this.timer && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    const now = this.clock.now();
    const full = this.needFull || this.lastFullAt === undefined || now - this.lastFullAt >= (this.options.fullIntervalMs ?? this.options.maxIntervalMs);
    this.lastStartAt = now;
    this.pending = false;
    this.running = true;
    this.inFlight = this.runOnce(full, now);
  }

  private async runOnce(full: boolean, startedAt: number): Promise<void> {
    let failed = false;
    try {
      await this.options.sync(full);
      this.failures = 0;
      this.retryAt = 0;
      if (full) {
        this.lastFullAt = startedAt;
        this.needFull = false;
      }
    } catch (err) {
      failed = true;
      this.failures++;
      this.needFull = true;
      const initial = this.options.retryInitialMs ?? Math.max(this.options.minIntervalMs, 1000);
      const delay = backoffDelay(this.failures, { initialMs: initial, maxMs: this.options.maxIntervalMs, jitter: 0 });
      this.retryAt = this.clock.now() + delay;
      try {
        this.options.onFailure?.(err, this.failures, delay);
      } catch {
        // A failing observer must not stop the runner.
      }
    }
    this.running = false;
    if (this.stopped) return;
    if (this.pending || failed) this.schedule(this.earliestAllowed());
    else if (this.options.fullIntervalMs === undefined) this.schedule((this.lastFullAt ?? startedAt) + this.options.maxIntervalMs);
    else this.schedule(startedAt + this.options.maxIntervalMs);
  }
}
