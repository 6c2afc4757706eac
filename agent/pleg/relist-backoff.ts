// How long the generator waits before its next relist, and before reopening the
// engine's event stream. Relists slow down (twice the period, at most 30 s) while
// the runtime is down; the event stream retries from 1 s doubling to 30 s and starts
// again at 1 s once an event arrives.

export const RETRY_MAX_MS = 30_000;
export const EVENT_STREAM_FIRST_RETRY_MS = 1_000;

export function nextRelistDelayMs(relistPeriodMs: number, runtimeDown: boolean): number {
  return runtimeDown ? Math.min(RETRY_MAX_MS, relistPeriodMs * 2) : relistPeriodMs;
}

export function nextEventStreamRetryMs(previousMs: number): number {
  return Math.min(RETRY_MAX_MS, previousMs * 2);
}
