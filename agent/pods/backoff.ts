// Per-key exponential back-off (crash loops, image pulls): kubelet's flowcontrol.Backoff
// without jitter. Time comes from an injected clock so tests move it by hand.
import { realClock, type Clock } from '../api/clock.js';

export interface BackoffOptions {
  /** First delay after a failure. */
  initialMs?: number;
  /** Delays double up to this. */
  maxMs?: number;
  /** A key whose last failure is older than this starts again at initialMs. */
  resetAfterMs?: number;
}

interface Entry {
  delayMs: number;
  lastFailureMs: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor({ initialMs = 10_000, maxMs = 300_000, resetAfterMs = 600_000 }: BackoffOptions = {}, private readonly clock: Clock = realClock) {
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !(resetAfterMs >= 0)) {
      throw new RangeError(`invalid back-off: initialMs=${initialMs} must be > 0, maxMs=${maxMs} >= initialMs, resetAfterMs=${resetAfterMs} >= 0`);
    }
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.resetAfterMs = resetAfterMs;
  }

  /** Records a failure now and returns the delay to wait before the next try. */
  next(key: string): number {
    const now = this.clock.now();
    const entry = this.entries.get(key);
    const delayMs = !entry || this.expired(entry, now) ? this.initialMs : Math.min(entry.delayMs * 2, this.maxMs);
    this.entries.set(key, { delayMs, lastFailureMs: now });
    return delayMs;
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
    const now = this.clock.now();
    const entry = this.entries.get(key);
    if (!entry || this.expired(entry, now)) return 0;
    return Math.max(0, sinceMs + entry.delayMs - now);
  }

  /** The delay the key currently waits (0 when it has none or it expired). */
  currentDelayMs(key: string): number {
    const entry = this.entries.get(key);
    return entry && !this.expired(entry, this.clock.now()) ? entry.delayMs : 0;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets keys idle for more than twice the maximum delay (kubelet's GC rule). */
  gc(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (now - entry.lastFailureMs > 2 * this.maxMs) this.entries.delete(key);
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

/**
 * The crash back-off key of one container of one pod. The spec hash is part of it
 * (as in kubelet), so an edited container starts with a fresh back-off.
 */
export function backoffKey(podUid: string, containerName: string, containerHash: string): string {
  return `${podUid}/${containerName}/${containerHash}`;
}
