// The eviction manager: ends pods the node cannot keep, through their pod workers
// (the only place that changes a pod's containers), which stop them and report
// them Failed with reason Evicted. Today's signal is local storage, as kubelet's
// emptyDir limit eviction: a pod whose on-disk emptyDir exceeds its sizeLimit is
// evicted. Node-pressure signals (memory, nodefs, PIDs) and their ranking go here too.
import type { Pod } from '../api/types.js';
import type { Logger } from '../log/logger.js';
import type { Clock, Timer } from '../api/clock.js';

/** A pod as eviction sees it: its worker's view of it, and the way to evict it. */
export interface EvictablePod {
  readonly currentPod: Pod;
  /** Being stopped or removed already: nothing to evict. */
  readonly isTerminating: boolean;
  /** Stops the pod for good; it ends Failed with reason Evicted and `message`. */
  evict(message: string): void;
}

/** Measures a pod's emptyDirs against their sizeLimits (the volume manager). */
export interface EmptyDirLimits {
  /** The eviction message when an emptyDir is over its sizeLimit, else undefined. */
  sizeLimitViolation(pod: Pod): Promise<string | undefined>;
}

export interface EvictionManagerOptions {
  /** The pods on the node (their workers). */
  pods: () => Iterable<EvictablePod>;
  emptyDirs: EmptyDirLimits;
  clock: Clock;
  logger: Logger;
  /** How often volume usage is measured (kubelet's volumeStatsAggPeriod). */
  monitoringPeriodMs: number;
}

export class EvictionManager {
  private timer?: Timer;
  private checking = false;
  private started = false;

  constructor(private readonly o: EvictionManagerOptions) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule();
  }

  stop(): void {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One round: evicts every pod with an emptyDir over its sizeLimit. Rounds never overlap. */
  async synchronize(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const p of this.o.pods()) {
        if (p.isTerminating || !hasEmptyDirLimit(p.currentPod)) continue;
        const violation = await this.o.emptyDirs.sizeLimitViolation(p.currentPod).catch((err: unknown) => {
          this.o.logger.debug({ err: (err as Error).message }, 'cannot measure emptyDir usage');
          return undefined;
        });
        if (violation) p.evict(violation);
      }
    } finally {
      this.checking = false;
    }
  }

  private schedule(): void {
    if (!this.started) return;
    this.timer = this.o.clock.setTimeout(() => {
      void this.synchronize();
      this.schedule();
    }, this.o.monitoringPeriodMs);
  }
}

function hasEmptyDirLimit(pod: Pod): boolean {
  return (pod.spec.volumes ?? []).some((v) => v.emptyDir?.sizeLimit !== undefined);
}
