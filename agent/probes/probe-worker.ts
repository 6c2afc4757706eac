// One worker per (pod, container, probe type): a ticker every periodSeconds,
// started at a random point of the first period so the probes of many pods do not
// fire together. Ticks fall on the grid of a SlotTicker shared by the node's
// workers, so the probes due within one slot run in one wake-up of the agent. A
// tick that finds the previous run still going is skipped, so a probe never runs
// twice at once and a slow target never piles up work. Only changes of the
// published result are pushed out.
import type { Probe } from '../api/types.js';
import type { Clock, Timer } from '../api/clock.js';
import type { ProbeOutcome } from './probe-outcome.js';
import { probeSettings, type ProbeSettings, type ProbeType } from './probe-settings.js';
import {
  decide,
  initialProbeState,
  observeContainer,
  podTerminating,
  recordError,
  recordOutcome,
  resultChanged,
  type ProbeContainer,
  type ProbeState,
} from './probe-state.js';
import { SlotTicker, alignToSlot } from './slot-ticker.js';

/** One finished run, for events, logs and latency statistics. */
export interface ProbeRun {
  type: ProbeType;
  containerId: string;
  /** Set when the handler answered. */
  outcome?: ProbeOutcome;
  /** Set when the probe could not be run; its result was thrown away. */
  error?: Error;
  state: ProbeState;
}

export interface ProbeWorkerOptions {
  type: ProbeType;
  probe: Probe;
  clock: Clock;
  /** Runs the handler once against the given container instance. */
  execute: (containerId: string, timeoutMs: number) => Promise<ProbeOutcome>;
  /** Read before each run: whether the startup probe let this one go, and whether the pod is being deleted. */
  context: () => { started: boolean; terminating: boolean };
  /** Called only when the published result changes. */
  onChange: (worker: ProbeWorker, previous: ProbeState) => void;
  onRun?: (worker: ProbeWorker, run: ProbeRun) => void;
  /** For the initial jitter; Math.random by default. */
  random?: () => number;
  /** The node's tick grid; one of the worker's own by default. */
  ticker?: SlotTicker;
}

export class ProbeWorker {
  readonly type: ProbeType;
  readonly probe: Probe;
  readonly settings: ProbeSettings;
  private current: ProbeState;
  private container?: ProbeContainer;
  private tickTimer?: Timer;
  private wakeTimer?: Timer;
  private nextTickAt = 0;
  private inFlight = false;
  private started = false;
  private readonly ticker: SlotTicker;
  private stopped = false;

  constructor(private readonly options: ProbeWorkerOptions) {
    this.type = options.type;
    this.probe = options.probe;
    this.settings = probeSettings(options.probe, options.type);
    this.current = initialProbeState(options.type);
    this.ticker = options.ticker ?? new SlotTicker(options.clock);
  }

  get state(): ProbeState {
    return this.current;
  }
  get running(): boolean {
    return this.inFlight;
  }
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts the ticker; the first tick falls at a random point of the first period. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const jitter = Math.floor((this.options.random ?? Math.random)() * this.settings.periodMs);
    this.nextTickAt = alignToSlot(this.options.clock.now() + jitter, this.ticker.slotMs);
    this.scheduleTick();
  }

  /** The container instance to probe, as the pod's status shows it now. */
  setContainer(container: ProbeContainer | undefined): void {
    if (this.stopped) return;
    const isNew = container !== undefined && container.containerId !== this.current.containerId;
    this.container = container;
    this.apply(observeContainer(this.current, this.type, container));
    if (isNew && this.type === 'readiness') this.trigger();
  }

  /** Re-reads the pod's deletion state: liveness and startup go quiet on deletion. */
  refresh(): void {
    if (this.stopped) return;
    if (this.options.context().terminating) this.apply(podTerminating(this.current, this.type));
  }

  /**
   * Runs now, out of turn, when this container instance has not been probed yet
   * (kubelet's manual trigger): a fresh container need not wait out the jitter to
   * become ready. Later runs keep to the period.
   */
  trigger(): void {
    if (this.stopped || this.current.lastProbeTime !== undefined) return;
    this.attempt();
  }

  stop(): void {
    this.stopped = true;
    this.tickTimer?.cancel();
    this.wakeTimer?.cancel();
  }

  private scheduleTick(): void {
    this.tickTimer = this.ticker.at(this.nextTickAt, this.onTick);
  }

  private readonly onTick = () => this.tick();

  private tick(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    this.nextTickAt += this.settings.periodMs;
    // Ticks missed while the process was busy are dropped, not replayed.
    if (this.nextTickAt <= now) this.nextTickAt = alignToSlot(now + this.settings.periodMs, this.ticker.slotMs);
    this.scheduleTick();
    this.attempt();
  }

  private attempt(): void {
    if (this.stopped || this.inFlight) return;
    const ctx = this.options.context();
    if (ctx.terminating) this.apply(podTerminating(this.current, this.type));
    const now = this.options.clock.now();
    const decision = decide(this.current, this.type, this.settings, { now, container: this.container, ...ctx });
    if (decision.kind === 'wait') {
      // The initial delay ends between ticks: probe right then rather than at the next tick.
      this.wakeTimer?.cancel();
      this.wakeTimer = this.options.clock.setTimeout(() => this.attempt(), decision.at - now);
    } else if (decision.kind === 'probe') {
      void this.runOnce(this.current.containerId!);
    }
  }

  private async runOnce(containerId: string): Promise<void> {
    this.inFlight = true;
    let outcome: ProbeOutcome | undefined;
    let error: Error | undefined;
    try {
      outcome = await this.options.execute(containerId, this.settings.timeoutMs);
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    } finally {
      this.inFlight = false;
    }
    // The container changed or the worker stopped while the probe ran: its answer is about nothing we track.
    if (this.stopped || this.current.containerId !== containerId) return;
    const now = this.options.clock.now();
    const next = outcome ? recordOutcome(this.current, this.type, this.settings, outcome, now) : recordError(this.current, error!.message, now);
    const run: ProbeRun = { type: this.type, containerId, state: next, ...(outcome ? { outcome } : { error: error! }) };
    this.apply(next);
    this.options.onRun?.(this, run);
  }

  private apply(next: ProbeState): void {
    const previous = this.current;
    this.current = next;
    if (resultChanged(previous, next)) this.options.onChange(this, previous);
  }
}
