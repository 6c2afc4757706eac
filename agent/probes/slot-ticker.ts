// Probe ticks on a shared grid: every callback due at the same slot boundary runs
// from one timer, so a hundred probes with a one-second period wake the agent ten
// times a second instead of two hundred, and their connections and execs go out
// together. Times are rounded up to the grid; one clock timer per slot in use.
import type { Clock, Timer } from '../api/clock.js';

/** The grid of probe ticks in ms; the jitter picks one of a period's slots. */
export const PROBE_TICK_SLOT_MS = 100;

/** The first slot boundary at or after `t`. */
export function alignToSlot(t: number, slotMs: number): number {
  return Math.ceil(t / slotMs) * slotMs;
}

export class SlotTicker {
  private readonly slots = new Map<number, { timer: Timer; due: Set<() => void> }>();

  constructor(
    private readonly clock: Clock,
    readonly slotMs: number = PROBE_TICK_SLOT_MS,
  ) {}

  /** Runs `fn` at the first slot boundary at or after `at` (clock time). */
  at(at: number, fn: () => void): Timer {
    const time = alignToSlot(at, this.slotMs);
    let slot = this.slots.get(time);
    if (!slot) {
      const due = new Set<() => void>();
      const timer = this.clock.setTimeout(() => this.fire(time), Math.max(0, time - this.clock.now()));
      this.slots.set(time, (slot = { timer, due }));
    }
    slot.due.add(fn);
    const { due } = slot;
    return {
      cancel: () => {
        due.delete(fn);
        if (due.size === 0 && this.slots.get(time)?.due === due) {
          this.slots.get(time)!.timer.cancel();
          this.slots.delete(time);
        }
      },
    };
  }

  /** Slots with callbacks waiting (for tests). */
  get pendingSlots(): number {
    return this.slots.size;
  }

  private fire(time: number): void {
    const slot = this.slots.get(time);
    if (!slot) return;
    this.slots.delete(time);
    for (const fn of slot.due) fn();
  }
}
