// A node-wide bound on exec probes running at once. Each exec costs Docker a
// process, an API round trip and a hijacked socket; a hundred pods probing with exec
// every second would otherwise queue up inside dockerd. Waiters run in arrival order.

export const DEFAULT_EXEC_CONCURRENCY = 10;

/**
 * The bound for `execProbeConcurrency: 0`. Docker's exec costs a runc process each:
 * measured with 100 exec probes a second on 2 cores, 10 at once kept the machine 98%
 * busy (httpGet p99 147 ms); one per core leaves room for everything else.
 */
export function automaticExecConcurrency(handler: string, cpus: number): number {
  return handler === 'docker' ? Math.min(DEFAULT_EXEC_CONCURRENCY, Math.max(1, cpus)) : DEFAULT_EXEC_CONCURRENCY;
}

export class ExecLimiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly limit = DEFAULT_EXEC_CONCURRENCY) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`exec probe concurrency must be a positive integer, got ${limit}`);
  }

  get active(): number {
    return this.running;
  }
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `task` once a slot is free; the slot is given back however the task ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      if (next) next();
      else this.running--;
    }
  }
}
