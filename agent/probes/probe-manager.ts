// The node's probes: one worker per (pod, container, probe type) for the containers
// the pod worker reports, results cached here and only changes pushed (onChange),
// so the pod worker reads readiness, startup and health cheaply whenever it syncs.
// Results always belong to the current container instance: a new container ID
// starts every probe of that container afresh.
import type { Container, Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { Logger } from '../log/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { realClock, type Clock } from '../api/clock.js';
import { DEFAULT_EXEC_CONCURRENCY, ExecLimiter } from './exec-limiter.js';
import { LatencyRecorder, type LatencyKey } from './latency-recorder.js';
import type { ProbeResult } from './probe-outcome.js';
import { PROBE_TYPES, probeOf, probeTypeTitle, probedContainers, type ProbeType } from './probe-settings.js';
import type { ProbeContainer, ProbeState, PublishedResult } from './probe-state.js';
import { ProbeWorker, type ProbeRun } from './probe-worker.js';
import { SlotTicker } from './slot-ticker.js';
import { handlerKind, runProbe } from './run-probe.js';

export type ProbeFailure = 'liveness' | 'startup';

/** What the pod worker knows of the pod's containers. */
export interface ProbePodStatus {
  podIP: string;
  containers: Array<{ name: string; containerId: string; startedAt?: Date; running: boolean }>;
}

/** One probe's state for `nodelet inspect`. */
export interface ProbeResultView {
  containerId?: string;
  /** What the probe publishes: readiness/liveness success or failure, startup also unknown. */
  result: PublishedResult;
  /** The raw result of the newest run. */
  lastResult?: ProbeResult;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  lastError?: string;
  /** ISO time of the newest run. */
  lastProbeTime?: string;
  lastLatencyMs?: number;
}

export interface ProbeManagerOptions {
  runtime: Runtime;
  clock?: Clock;
  logger: Logger;
  events?: EventRecorder;
  /** Exec probes running at once, node-wide (default 10). */
  execConcurrency?: number;
  /** A probe result of the pod changed: readiness, started or health. */
  onChange: (podUid: string) => void;
  /** For the workers' initial jitter; Math.random by default. */
  random?: () => number;
}

interface ContainerProbes {
  spec: Container;
  workers: Map<ProbeType, ProbeWorker>;
  /** The container instance the pod worker is already killing for a failed probe. */
  acknowledged?: string;
}

interface PodProbes {
  pod: Pod;
  podIP: string;
  containers: Map<string, ContainerProbes>;
}

export class ProbeManager {
  private readonly pods = new Map<string, PodProbes>();
  private readonly clock: Clock;
  private readonly execLimiter: ExecLimiter;
  private readonly latency = new LatencyRecorder();
  /** One tick grid for every worker of the node. */
  private readonly ticker: SlotTicker;
  private stopped = false;

  constructor(private readonly options: ProbeManagerOptions) {
    this.clock = options.clock ?? realClock;
    this.ticker = new SlotTicker(this.clock);
    this.execLimiter = new ExecLimiter(options.execConcurrency ?? DEFAULT_EXEC_CONCURRENCY);
  }

  /**
   * Matches the workers to the pod: workers for every probe of every container the
   * status lists, none for containers it does not; each worker follows its
   * container's current instance.
   */
  syncPod(pod: Pod, status: ProbePodStatus): void {
    if (this.stopped) return;
    const uid = pod.metadata.uid ?? '';
    let entry = this.pods.get(uid);
    if (!entry) this.pods.set(uid, (entry = { pod, podIP: status.podIP, containers: new Map() }));
    entry.pod = pod;
    entry.podIP = status.podIP;

    const byName = new Map(status.containers.map((c) => [c.name, c]));
    const specs = new Map(probedContainers(pod).map((c) => [c.name, c]));
    const hasProbes = (spec: Container | undefined) => spec !== undefined && PROBE_TYPES.some((t) => probeOf(spec, t));
    for (const [name, probes] of entry.containers) {
      if (!hasProbes(specs.get(name)) || !byName.has(name)) this.dropContainer(entry, name, probes);
    }
    for (const [name, spec] of specs) {
      const seen = byName.get(name);
      if (!seen || !hasProbes(spec)) continue;
      const view: ProbeContainer = { containerId: seen.containerId, running: seen.running };
      if (seen.startedAt) view.startedAt = seen.startedAt.getTime();
      this.syncContainer(uid, entry, spec, view);
    }
  }

  removePod(uid: string): void {
    const entry = this.pods.get(uid);
    if (!entry) return;
    for (const [name, probes] of entry.containers) this.dropContainer(entry, name, probes);
    this.pods.delete(uid);
  }

  /** Container name → ready, for containers with a readiness probe (absent: no probe, ready while running). */
  readiness(uid: string): Map<string, boolean> {
    return this.resultsOf(uid, 'readiness', (s) => s.result === 'success');
  }

  /** Container name → started, for containers with a startup probe (absent: no probe, started while running). */
  started(uid: string): Map<string, boolean> {
    return this.resultsOf(uid, 'startup', (s) => s.result === 'success');
  }

  /** Containers with a startup probe that has not succeeded for their current instance. */
  startupPending(uid: string): Set<string> {
    return new Set([...this.started(uid)].filter(([, started]) => !started).map(([name]) => name));
  }

  /**
   * Running containers to kill: liveness failed, or the startup probe reached its
   * failure threshold, for the current instance and not yet acknowledged.
   */
  unhealthy(uid: string): Map<string, ProbeFailure> {
    const out = new Map<string, ProbeFailure>();
    for (const [name, probes] of this.pods.get(uid)?.containers ?? []) {
      for (const type of ['liveness', 'startup'] as const) {
        const state = probes.workers.get(type)?.state;
        if (state?.result === 'failure' && state.containerId !== probes.acknowledged) {
          out.set(name, type);
          break;
        }
      }
    }
    return out;
  }

  /** The pod worker has killed the container for its failed probe: stop reporting it. */
  acknowledgeRestart(uid: string, name: string): void {
    const probes = this.pods.get(uid)?.containers.get(name);
    const id = probes?.workers.values().next().value?.state.containerId;
    if (probes && id) probes.acknowledged = id;
  }

  /** Per container and probe type, the state `nodelet inspect` shows. */
  results(uid: string): Record<string, Partial<Record<ProbeType, ProbeResultView>>> {
    const out: Record<string, Partial<Record<ProbeType, ProbeResultView>>> = {};
    for (const [name, probes] of this.pods.get(uid)?.containers ?? []) {
      const views: Partial<Record<ProbeType, ProbeResultView>> = {};
      for (const [type, worker] of probes.workers) views[type] = resultView(worker.state);
      out[name] = views;
    }
    return out;
  }

  /** Recorded probe latencies in ms (newest 10 000 per key), for one probe type or handler kind, or all. */
  latencies(key?: LatencyKey): number[] {
    return this.latency.list(key);
  }

  stop(): void {
    this.stopped = true;
    for (const uid of [...this.pods.keys()]) this.removePod(uid);
  }

  private resultsOf(uid: string, type: ProbeType, ok: (s: ProbeState) => boolean): Map<string, boolean> {
    const out = new Map<string, boolean>();
    const entry = this.pods.get(uid);
    if (!entry) return out;
    for (const spec of probedContainers(entry.pod)) {
      if (!probeOf(spec, type)) continue;
      const state = entry.containers.get(spec.name)?.workers.get(type)?.state;
      out.set(spec.name, state !== undefined && ok(state));
    }
    return out;
  }

  private syncContainer(uid: string, entry: PodProbes, spec: Container, view: ProbeContainer): void {
    let probes = entry.containers.get(spec.name);
    if (!probes) entry.containers.set(spec.name, (probes = { spec, workers: new Map() }));
    probes.spec = spec;
    if (probes.acknowledged !== undefined && probes.acknowledged !== view.containerId) delete probes.acknowledged;
    // Startup first: the other two read its result as their gate.
    for (const type of PROBE_TYPES) {
      const probe = probeOf(spec, type);
      let worker = probes.workers.get(type);
      if (worker && (!probe || JSON.stringify(worker.probe) !== JSON.stringify(probe))) {
        worker.stop();
        probes.workers.delete(type);
        worker = undefined;
      }
      if (!probe) continue;
      if (!worker) {
        worker = this.newWorker(uid, entry, probes, type);
        probes.workers.set(type, worker);
        worker.setContainer(view);
        worker.start();
      } else {
        worker.setContainer(view);
      }
      worker.refresh();
    }
  }

  private newWorker(uid: string, entry: PodProbes, probes: ContainerProbes, type: ProbeType): ProbeWorker {
    const probe = probeOf(probes.spec, type)!;
    return new ProbeWorker({
      type,
      probe,
      clock: this.clock,
      ticker: this.ticker,
      random: this.options.random,
      execute: (containerId, timeoutMs) =>
        runProbe(
          probe,
          {
            runtime: this.options.runtime,
            execLimiter: this.execLimiter,
            containerId,
            container: probes.spec,
            podIP: entry.podIP,
          },
          timeoutMs,
        ),
      context: () => ({
        started: type === 'startup' || startupSucceeded(probes),
        terminating: Boolean(entry.pod.metadata.deletionTimestamp),
      }),
      onChange: (worker, previous) => this.changed(uid, entry, probes, worker, previous),
      onRun: (worker, run) => this.ran(entry, probes, worker, run),
    });
  }

  private changed(uid: string, entry: PodProbes, probes: ContainerProbes, worker: ProbeWorker, previous: ProbeState): void {
    const state = worker.state;
    const log = this.options.logger.child({ pod: podKey(entry.pod), uid, container: probes.spec.name });
    if (state.result === 'failure' && (worker.type === 'liveness' || worker.type === 'startup')) {
      log.info({ probe: worker.type }, `container failed ${worker.type} probe, will be restarted`);
    } else {
      log.debug({ probe: worker.type, from: previous.result, to: state.result }, `${worker.type} probe result changed`);
    }
    // A container that just started need not wait a period to be probed for readiness.
    if (worker.type === 'startup' && state.result === 'success') probes.workers.get('readiness')?.trigger();
    this.options.onChange(uid);
  }

  private ran(entry: PodProbes, probes: ContainerProbes, worker: ProbeWorker, run: ProbeRun): void {
    const title = probeTypeTitle(worker.type);
    const events = this.options.events;
    if (run.outcome) {
      this.latency.record(worker.type, handlerKind(worker.probe), run.outcome.latencyMs);
      if (run.outcome.result === 'failure') {
        events?.record(entry.pod, 'Warning', 'Unhealthy', `${title} probe failed: ${run.outcome.message ?? ''}`);
      } else if (run.outcome.warning) {
        events?.record(entry.pod, 'Warning', 'ProbeWarning', `${title} probe warning: ${run.outcome.message ?? ''}`);
      }
    } else if (run.error) {
      this.options.logger.debug({ pod: podKey(entry.pod), container: probes.spec.name, probe: worker.type, err: run.error }, 'probe errored');
      events?.record(entry.pod, 'Warning', 'Unhealthy', `${title} probe errored: ${run.error.message}`);
    }
  }

  private dropContainer(entry: PodProbes, name: string, probes: ContainerProbes): void {
    for (const worker of probes.workers.values()) worker.stop();
    entry.containers.delete(name);
  }
}

function startupSucceeded(probes: ContainerProbes): boolean {
  const startup = probes.workers.get('startup');
  return !startup || startup.state.result === 'success';
}

function resultView(state: ProbeState): ProbeResultView {
  const view: ProbeResultView = {
    result: state.result,
    consecutiveSuccesses: state.consecutiveSuccesses,
    consecutiveFailures: state.consecutiveFailures,
  };
  if (state.containerId !== undefined) view.containerId = state.containerId;
  if (state.lastResult !== undefined) view.lastResult = state.lastResult;
  if (state.lastError !== undefined) view.lastError = state.lastError;
  if (state.lastProbeTime !== undefined) view.lastProbeTime = new Date(state.lastProbeTime).toISOString();
  if (state.lastLatencyMs !== undefined) view.lastLatencyMs = state.lastLatencyMs;
  return view;
}
