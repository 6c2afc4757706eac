// The state of one probe of one container, with kubelet's semantics (prober
// worker.doProbe), as pure functions so the rules can be tested without time:
//  - the published result flips only when failureThreshold failures or
//    successThreshold successes come in a row;
//  - readiness starts as failure (not ready), liveness as success, startup as
//    unknown (not started, not failed);
//  - liveness and readiness do not run until the startup probe has succeeded;
//  - nothing runs before initialDelaySeconds have passed since the container started;
//  - a liveness failure, or a startup probe reaching either threshold, holds the
//    probe until a new container (a new container ID) starts it afresh;
//  - when the pod is being deleted, liveness and startup report success and stop,
//    so a terminating container is never killed for its health.
import type { ProbeOutcome, ProbeResult } from './probe-outcome.js';
import type { ProbeSettings, ProbeType } from './probe-settings.js';

/** What the probe tells the pod worker; 'unknown' only for a startup probe that has not decided yet. */
export type PublishedResult = ProbeResult | 'unknown';

export interface ProbeState {
  /** The container instance these results belong to. */
  readonly containerId?: string;
  readonly result: PublishedResult;
  /** The raw result of the newest run. */
  readonly lastResult?: ProbeResult;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** No more runs for this container instance (liveness failed, startup decided, pod deleting). */
  readonly onHold: boolean;
  /** The message of the newest failed or errored run. */
  readonly lastError?: string;
  readonly lastProbeTime?: number;
  readonly lastLatencyMs?: number;
}

/** The container instance a probe looks at. */
export interface ProbeContainer {
  containerId: string;
  running: boolean;
  /** Milliseconds since the epoch; undefined when the runtime did not say. */
  startedAt?: number;
}

export interface ProbeContext {
  now: number;
  container?: ProbeContainer;
  /** Whether the container's startup probe has succeeded (true without one). */
  started: boolean;
  /** The pod has a deletion timestamp. */
  terminating: boolean;
}

export type ProbeDecision =
  | { kind: 'probe' }
  /** Initial delay: ask again at `at`. */
  | { kind: 'wait'; at: number }
  | { kind: 'idle'; why: 'no-container' | 'not-running' | 'on-hold' | 'not-started' };

export function initialResult(type: ProbeType): PublishedResult {
  switch (type) {
    case 'readiness':
      return 'failure';
    case 'liveness':
      return 'success';
    case 'startup':
      return 'unknown';
  }
}

export function initialProbeState(type: ProbeType, containerId?: string): ProbeState {
  const state: ProbeState = { result: initialResult(type), consecutiveSuccesses: 0, consecutiveFailures: 0, onHold: false };
  return containerId === undefined ? state : { ...state, containerId };
}

/**
 * Follows the container: a new instance starts the probe afresh; an instance that
 * stopped running is not ready.
 */
export function observeContainer(state: ProbeState, type: ProbeType, container: ProbeContainer | undefined): ProbeState {
  if (!container) return state;
  let next = state;
  if (container.containerId !== state.containerId) next = initialProbeState(type, container.containerId);
  if (!container.running && type === 'readiness' && next.result !== 'failure') next = { ...next, result: 'failure' };
  return next;
}

/** The pod is being deleted: liveness and startup go quiet with a success; readiness keeps probing. */
export function podTerminating(state: ProbeState, type: ProbeType): ProbeState {
  if (type === 'readiness' || (state.onHold && state.result === 'success')) return state;
  return { ...state, result: 'success', onHold: true };
}

export function decide(state: ProbeState, type: ProbeType, settings: ProbeSettings, ctx: ProbeContext): ProbeDecision {
  const c = ctx.container;
  if (!c || c.containerId !== state.containerId) return { kind: 'idle', why: 'no-container' };
  if (!c.running) return { kind: 'idle', why: 'not-running' };
  if (state.onHold || (ctx.terminating && type !== 'readiness')) return { kind: 'idle', why: 'on-hold' };
  if (c.startedAt !== undefined && ctx.now < c.startedAt + settings.initialDelayMs) {
    return { kind: 'wait', at: c.startedAt + settings.initialDelayMs };
  }
  // The startup probe gates the others; once it has succeeded it is on hold itself.
  if (type !== 'startup' && !ctx.started) return { kind: 'idle', why: 'not-started' };
  return { kind: 'probe' };
}

/** Counts one run's result and flips the published result when a threshold is reached. */
export function recordOutcome(
  state: ProbeState,
  type: ProbeType,
  settings: ProbeSettings,
  outcome: Pick<ProbeOutcome, 'result' | 'message' | 'latencyMs'>,
  now: number,
): ProbeState {
  const success = outcome.result === 'success';
  const consecutiveSuccesses = success ? state.consecutiveSuccesses + 1 : 0;
  const consecutiveFailures = success ? 0 : state.consecutiveFailures + 1;
  let next: ProbeState = {
    ...state,
    lastResult: outcome.result,
    consecutiveSuccesses,
    consecutiveFailures,
    lastProbeTime: now,
    lastLatencyMs: outcome.latencyMs,
    ...(success ? {} : { lastError: outcome.message ?? '' }),
  };
  const reached = success ? consecutiveSuccesses >= settings.successThreshold : consecutiveFailures >= settings.failureThreshold;
  if (!reached) return next;
  next = { ...next, result: outcome.result };
  // A container about to be killed is left alone (docker exec into a stopping
  // container is unsafe); a startup probe that decided has nothing left to say.
  if ((type === 'liveness' && !success) || type === 'startup') next = { ...next, onHold: true };
  return next;
}

/** A run that could not be made: kubelet throws the result away; only the error is kept for operators. */
export function recordError(state: ProbeState, message: string, now: number): ProbeState {
  return { ...state, lastError: message, lastProbeTime: now };
}

/** Whether the published result differs between two states of the same probe. */
export function resultChanged(before: ProbeState, after: ProbeState): boolean {
  return before.result !== after.result;
}
