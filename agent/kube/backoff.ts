// Capped exponential backoff with jitter, and an abortable sleep on the injected
// clock. Jitter spreads the retries of many nodes after an apiserver restart so
// they do not all come back in the same second.
import type { Clock } from '../api/clock.js';

export interface BackoffPolicy {
  /** Delay before the first retry (ms). */
  initialMs: number;
  /** No delay is ever longer than this (ms). */
  maxMs: number;
  /** Fraction of the delay that is random: delays fall in [base·(1−jitter), base]. */
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
