// Client-side rate limit for apiserver requests: a token bucket (client-go's
// default limiter), QPS tokens per second up to `burst` saved. Waiters are served
// in arrival order so a busy caller cannot starve a patient one.
import { realClock, type Clock, type Timer } from '../api/clock.js';

export interface RateLimiterOptions {
  /** Sustained requests per second (kubelet's kubeAPIQPS, 50). */
  qps?: number;
  /** Requests allowed at once after a quiet period (kubelet's kubeAPIBurst, 100). */
  burst?: number;
  clock?: Clock;
}

export const DEFAULT_QPS = 50;
export const DEFAULT_BURST = 100;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class RateLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;
  private readonly waiters: Waiter[] = [];
  private timer: Timer | undefined;

  constructor(options: RateLimiterOptions = {}) {
    this.qps = options.qps ?? DEFAULT_QPS;
    this.burst = options.burst ?? DEFAULT_BURST;
    if (!(this.qps > 0)) throw new RangeError(`rate limiter: qps must be > 0, got ${this.qps}`);
    if (!(this.burst >= 1)) throw new RangeError(`rate limiter: burst must be >= 1, got ${this.burst}`);
    this.clock = options.clock ?? realClock;
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** Takes a token now if one is free and nobody is queued. */
  tryAcquire(): boolean {
    this.refill();
    if (this.waiters.length > 0 || this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Resolves when a token is granted; rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason);
          this.schedule();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.schedule();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
  }

  private serve(): void {
    this.timer = undefined;
    this.refill();
    while (this.waiters.length > 0 && this.tokens >= 1) {
      const waiter = this.waiters.shift()!;
      this.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    this.schedule();
  }

  /** One timer, set for the moment the next whole token is due. */
  private schedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.waiters.length === 0) return;
    this.refill();
    const waitMs = Math.max(0, Math.ceil(((1 - this.tokens) * 1000) / this.qps));
    this.timer = this.clock.setTimeout(() => this.serve(), waitMs);
  }
}
