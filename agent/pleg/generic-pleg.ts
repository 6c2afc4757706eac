// The pod lifecycle event generator (kubelet's GenericPLEG): lists every sandbox
// and container of this node each relist period, compares each pod's fingerprint
// with the last relist's, and tells its listeners which pods changed. The engine's
// event stream wakes pods between relists; the relist catches whatever the stream
// missed (it does not survive an engine restart). The only part of the agent that
// watches the runtime for changes: pod workers are woken through its events.
import { isRuntimeError } from '../runtime/errors.js';
import { LABEL_POD_UID, nodeSelectorLabels } from '../runtime/labels.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Logger } from '../log/logger.js';
import type { Clock, Timer } from '../api/clock.js';
import type { PodLifecycleEvent, PodLifecycleListener } from './pod-lifecycle-event.js';
import { DEFAULT_RELIST_THRESHOLD_MS, plegHealth, type PlegHealth } from './pleg-health.js';
import { backoffDelay, sleep } from '../api/backoff.js';
import { EVENT_STREAM_RETRY, nextRelistDelayMs } from './relist-backoff.js';
import { changedPods, relistSnapshot, type RelistSnapshot } from './relist-fingerprints.js';

export interface GenericPLEGOptions {
  runtime: Pick<Runtime, 'listPodSandboxes' | 'listContainers' | 'events'>;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  relistPeriodMs: number;
  /** Default: 3 minutes, as kubelet. */
  relistThresholdMs?: number;
}

/**
 * Engine events that mean a pod's state changed behind its worker's back. Creates
 * and starts are the worker's own doing (or are caught by the relist), so waking
 * the worker for them would only repeat work.
 */
const WAKING_ACTIONS = new Set(['die', 'oom', 'destroy', 'pause', 'unpause']);

export class GenericPLEG {
  private readonly listeners = new Set<PodLifecycleListener>();
  private readonly log: Logger;
  private readonly thresholdMs: number;
  private abort = new AbortController();
  private started = false;
  private relistTimer?: Timer;
  private last?: RelistSnapshot;
  /** When the last successful relist started (kubelet's relistTime). */
  private lastRelistAt?: number;
  private runtimeDown = false;
  private inFlight?: Promise<void>;
  private rerun?: Promise<void>;

  constructor(private readonly o: GenericPLEGOptions) {
    this.log = o.logger;
    this.thresholdMs = o.relistThresholdMs ?? DEFAULT_RELIST_THRESHOLD_MS;
  }

  /** Calls `listener` with every event from now on; returns a function that unsubscribes. */
  watch(listener: PodLifecycleListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Starts the periodic relist (the first one period from now) and the engine event watch. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.abort = new AbortController();
    this.scheduleRelist(this.o.relistPeriodMs);
    void this.watchEngineEvents(this.abort.signal);
  }

  /** Stops relisting and closes the event stream; waits for neither the runtime nor listeners. */
  stop(): void {
    this.started = false;
    this.abort.abort();
    this.relistTimer?.cancel();
    this.relistTimer = undefined;
  }

  /** Healthy while the last successful relist started within the threshold. */
  healthy(): PlegHealth {
    return plegHealth(this.lastRelistAt, this.o.clock.now(), this.thresholdMs);
  }

  /** The pods of this node the last successful relist found, by UID; undefined before the first one. */
  podsInRuntime(): ReadonlyMap<string, Readonly<Record<string, string>>> | undefined {
    return this.last?.labels;
  }

  /**
   * Lists the runtime now and sends the events. One relist runs at a time: a call
   * during one runs one more after it (what changed meanwhile is not missed).
   */
  relist(): Promise<void> {
    if (this.inFlight) {
      this.rerun ??= this.inFlight.then(() => {
        this.rerun = undefined;
        return this.relist();
      });
      return this.rerun;
    }
    this.inFlight = this.relistOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async relistOnce(): Promise<void> {
    const startedAt = this.o.clock.now();
    let sandboxes, containers;
    try {
      const labels = nodeSelectorLabels(this.o.nodeName);
      [sandboxes, containers] = await Promise.all([this.o.runtime.listPodSandboxes({ labels }), this.o.runtime.listContainers({ labels })]);
    } catch (err) {
      if (!this.runtimeDown) {
        this.runtimeDown = true;
        this.log.error(
          { err: (err as Error).message },
          isRuntimeError(err, 'RuntimeUnavailable')
            ? 'container runtime unreachable; pods keep their last state, retrying with backoff'
            : 'runtime relist failed, retrying',
        );
        this.emit({ type: 'RuntimeDown' });
      }
      return;
    }
    this.lastRelistAt = startedAt;
    if (this.runtimeDown) {
      this.runtimeDown = false;
      this.log.info('container runtime reachable again; resyncing every pod');
      this.emit({ type: 'RuntimeUp' });
    }
    const current = relistSnapshot(sandboxes, containers);
    for (const uid of changedPods(this.last?.fingerprints ?? new Map(), current.fingerprints)) this.emit({ type: 'PodChanged', uid });
    this.last = current;
    this.emit({ type: 'Relisted', pods: current.labels });
  }

  private scheduleRelist(ms: number): void {
    if (!this.started) return;
    this.relistTimer?.cancel();
    this.relistTimer = this.o.clock.setTimeout(() => {
      void this.relist().finally(() => this.scheduleRelist(nextRelistDelayMs(this.o.relistPeriodMs, this.runtimeDown)));
    }, ms);
  }

  private async watchEngineEvents(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        for await (const event of this.o.runtime.events(signal)) {
          failures = 0;
          const uid = event.labels[LABEL_POD_UID];
          if (uid && WAKING_ACTIONS.has(event.action)) this.emit({ type: 'PodChanged', uid });
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.debug({ err: (err as Error).message }, 'runtime event stream ended');
      }
      if (signal.aborted) return;
      // The stream does not survive an engine restart: reopen it and relist to catch up.
      failures += 1;
      await sleep(this.o.clock, backoffDelay(failures, EVENT_STREAM_RETRY), signal).catch(() => undefined);
      if (!signal.aborted) void this.relist();
    }
  }

  private emit(event: PodLifecycleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'pod lifecycle listener failed');
      }
    }
  }
}
