// Backoff, one policy for every retry of the agent: a delay that doubles from
// `initialMs` up to `maxMs`, optionally jittered. Three ways to use it:
// - backoffDelay: the delay before retry number N of one loop (watches, leases,
//   status patches, the runtime relist), with sleep() to wait it out on the
//   injected clock, abortable;
// - Backoff: the same policy tracked per key (crash loops, image pulls), as
//   kubelet's flowcontrol.Backoff, without jitter.
// Jitter spreads the retries of many nodes after an apiserver restart so they do
// not all come back in the same second; a local loop (the engine, one node) needs none.
import { realClock, type Clock } from './clock.js';

export interface BackoffPolicy {
  /** Delay before the first retry (ms). */
  initialMs: number;
  /** No delay is ever longer than this (ms). */
  maxMs: number;
  /** Fraction of the delay that is random: delays fall in [base·(1−jitter), base]. 0 = none. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, jitter: 0.5 };

/** Delay before retry number `attempt` (1-based): initial·2^(attempt−1), capped, jittered downwards. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, attempt - 1), 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(base * (1 - policy.jitter * random()));
}

/** Waits `ms` on `clock`; rejects with the signal's reason when aborted. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface BackoffOptions {
  /** First delay after a failure. */
  initialMs?: number;
  /** Delays double up to this. */
  maxMs?: number;
  /** A key whose last failure is older than this starts again at initialMs. */
  resetAfterMs?: number;
}

interface Entry {
  failures: number;
  lastFailureMs: number;
}

/** Per-key backoff; defaults are kubelet's crash-loop back-off (10 s doubling to 300 s, reset after 10 min). */
export class Backoff {
  private readonly policy: BackoffPolicy;
  private readonly resetAfterMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(
    { initialMs = 10_000, maxMs = 300_000, resetAfterMs = 600_000 }: BackoffOptions = {},
    private readonly clock: Clock = realClock,
  ) {
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !(resetAfterMs >= 0)) {
      throw new RangeError(`invalid back-off: initialMs=${initialMs} must be > 0, maxMs=${maxMs} >= initialMs, resetAfterMs=${resetAfterMs} >= 0`);
    }
    this.policy = { initialMs, maxMs, jitter: 0 };
    this.resetAfterMs = resetAfterMs;
  }

  /** Records a failure now and returns the delay to wait before the next try. */
  next(key: string): number {
    const now = this.clock.now();
    const entry = this.entries.get(key);
    const failures = !entry || this.expired(entry, now) ? 1 : entry.failures + 1;
    this.entries.set(key, { failures, lastFailureMs: now });
    return backoffDelay(failures, this.policy);
  }

  /**
   * True while the current delay, counted from `sinceMs`, has not passed. kubelet
   * counts from the moment the container finished (IsInBackOffSince), so a container
   * that ran for a while is not held back for the whole delay again.
   */
  isInBackOff(key: string, sinceMs: number): boolean {
    return this.remainingMs(key, sinceMs) > 0;
  }

  /** How long until `sinceMs` + the current delay; 0 when not in back-off. */
  remainingMs(key: string, sinceMs: number): number {
    const delayMs = this.currentDelayMs(key);
    return delayMs === 0 ? 0 : Math.max(0, sinceMs + delayMs - this.clock.now());
  }

  /** The delay the key currently waits (0 when it has none or it expired). */
  currentDelayMs(key: string): number {
    const entry = this.entries.get(key);
    return entry && !this.expired(entry, this.clock.now()) ? backoffDelay(entry.failures, this.policy) : 0;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets keys idle for more than twice the maximum delay (kubelet's GC rule). */
  gc(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (now - entry.lastFailureMs > 2 * this.policy.maxMs) this.entries.delete(key);
    }
  }

  /** Number of keys tracked, for tests and metrics. */
  get size(): number {
    return this.entries.size;
  }

  private expired(entry: Entry, now: number): boolean {
    return now - entry.lastFailureMs > this.resetAfterMs;
  }
}
