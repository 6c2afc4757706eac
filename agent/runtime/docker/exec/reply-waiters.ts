// The calls waiting on a helper process's replies, by request id: each is settled
// once (its deadline timer cleared), and all fail together when the helper dies.
// `onCountChange` (called when the first call starts waiting and when the last one
// is settled) lets the owner keep its pipes referenced only while some call waits.
import type { ExecResult } from '../../runtime.js';

export interface ReplyWaiter {
  resolve: (result: ExecResult) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

export class ReplyWaiters {
  private readonly waiters = new Map<number, ReplyWaiter>();

  constructor(private readonly onCountChange: () => void) {}

  get size(): number {
    return this.waiters.size;
  }

  add(id: number, waiter: ReplyWaiter): void {
    this.waiters.set(id, waiter);
    if (this.waiters.size === 1) this.onCountChange();
  }

  /** Removes and returns the waiter of a request, once. */
  settle(id: number): ReplyWaiter | undefined {
    const waiter = this.waiters.get(id);
    if (!waiter) return undefined;
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    if (this.waiters.size === 0) this.onCountChange();
    return waiter;
  }

  failAll(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.settle(id)?.reject(err);
  }
}
