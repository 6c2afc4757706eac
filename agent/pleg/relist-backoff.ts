// How long the generator waits before its next relist, and before reopening the
// engine's event stream. Relists slow down (twice the period, at most 30 s) while
// the runtime is down; the event stream retries from 1 s doubling to 30 s and starts
// again at 1 s once an event arrives.

import type { BackoffPolicy } from '../api/backoff.js';

const RETRY_MAX_MS = 30_000;
/** Reopening the engine's event stream: 1 s doubling to 30 s, back to 1 s once an event arrives. */
export const EVENT_STREAM_RETRY: BackoffPolicy = { initialMs: 1_000, maxMs: RETRY_MAX_MS, jitter: 0 };

export function nextRelistDelayMs(relistPeriodMs: number, runtimeDown: boolean): number {
  return runtimeDown ? Math.min(RETRY_MAX_MS, relistPeriodMs * 2) : relistPeriodMs;
}
