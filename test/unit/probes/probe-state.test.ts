import { describe, expect, it } from 'vitest';
import type { Container, Pod } from '../../../agent/api/types.js';
import { probeKillGraceSeconds, probeSettings, probedContainers } from '../../../agent/probes/probe-settings.js';
import {
  decide,
  initialProbeState,
  observeContainer,
  podTerminating,
  recordError,
  recordOutcome,
  type ProbeContext,
  type ProbeState,
} from '../../../agent/probes/probe-state.js';
import type { ProbeSettings, ProbeType } from '../../../agent/probes/probe-settings.js';
import { FakeClock } from '../../../agent/api/clock.js';

const ok = { result: 'success' as const, latencyMs: 1 };
const bad = { result: 'failure' as const, message: 'HTTP probe failed with statuscode: 500', latencyMs: 2 };

function run(state: ProbeState, type: ProbeType, settings: ProbeSettings, outcomes: Array<typeof ok | typeof bad>, now = 0): ProbeState {
  return outcomes.reduce((s, o) => recordOutcome(s, type, settings, o, now), state);
}

describe('probeSettings', () => {
  it('applies the Kubernetes defaults', () => {
    expect(probeSettings({ exec: { command: ['true'] } }, 'readiness')).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it('treats zero as unset, as the apiserver defaults it', () => {
    expect(probeSettings({ periodSeconds: 0, timeoutSeconds: 0, failureThreshold: 0, successThreshold: 0 }, 'readiness')).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it('takes the fields given, in milliseconds', () => {
    expect(probeSettings({ initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 4 }, 'readiness')).toEqual({
      initialDelayMs: 5_000,
      periodMs: 2_000,
      timeoutMs: 3_000,
      successThreshold: 2,
      failureThreshold: 4,
    });
  });

  it('keeps successThreshold at 1 for liveness and startup', () => {
    expect(probeSettings({ successThreshold: 3 }, 'liveness').successThreshold).toBe(1);
    expect(probeSettings({ successThreshold: 3 }, 'startup').successThreshold).toBe(1);
  });

  it('takes the kill grace period from the probe before the pod', () => {
    const container: Container = { name: 'app', livenessProbe: { terminationGracePeriodSeconds: 5 }, startupProbe: {} };
    const pod: Pod = { metadata: { name: 'p' }, spec: { containers: [container], terminationGracePeriodSeconds: 60 } };
    expect(probeKillGraceSeconds(pod, container, 'liveness')).toBe(5);
    expect(probeKillGraceSeconds(pod, container, 'startup')).toBe(60);
    expect(probeKillGraceSeconds({ ...pod, spec: { containers: [container] } }, container, 'startup')).toBe(30);
  });

  it('probes sidecars and regular containers, not plain init containers', () => {
    const pod: Pod = {
      metadata: { name: 'p' },
      spec: { initContainers: [{ name: 'init' }, { name: 'sidecar', restartPolicy: 'Always' }], containers: [{ name: 'app' }] },
    };
    expect(probedContainers(pod).map((c) => c.name)).toEqual(['sidecar', 'app']);
  });
});

describe('probe state: initial results', () => {
  it('starts readiness as failure, liveness as success and startup as unknown', () => {
    expect(initialProbeState('readiness').result).toBe('failure');
    expect(initialProbeState('liveness').result).toBe('success');
    expect(initialProbeState('startup').result).toBe('unknown');
  });
});

describe('probe state: thresholds', () => {
  const settings = probeSettings({ successThreshold: 2, failureThreshold: 3 }, 'readiness');

  it('flips readiness only after successThreshold successes in a row', () => {
    let s = observeContainer(initialProbeState('readiness'), 'readiness', { containerId: 'c1', running: true });
    s = run(s, 'readiness', settings, [ok]);
    expect(s.result).toBe('failure');
    expect(s.consecutiveSuccesses).toBe(1);
    s = run(s, 'readiness', settings, [bad, ok]);
    expect(s.result).toBe('failure');
    s = run(s, 'readiness', settings, [ok]);
    expect(s.result).toBe('success');
    expect(s.consecutiveSuccesses).toBe(2);
    expect(s.consecutiveFailures).toBe(0);
  });

  it('flips back only after failureThreshold failures in a row', () => {
    let s = run(initialProbeState('readiness', 'c1'), 'readiness', settings, [ok, ok]);
    s = run(s, 'readiness', settings, [bad, bad, ok, bad, bad]);
    expect(s.result).toBe('success');
    s = run(s, 'readiness', settings, [bad]);
    expect(s.result).toBe('failure');
    expect(s.consecutiveFailures).toBe(3);
    expect(s.lastError).toBe(bad.message);
    expect(s.lastResult).toBe('failure');
  });

  it('keeps counting past the threshold and records time and latency', () => {
    const s = run(initialProbeState('readiness', 'c1'), 'readiness', settings, [ok, ok, ok], 1234);
    expect(s).toMatchObject({ result: 'success', consecutiveSuccesses: 3, lastProbeTime: 1234, lastLatencyMs: 1 });
  });

  it('holds liveness after it fails its threshold, until a new container', () => {
    const live = probeSettings({}, 'liveness');
    let s = run(initialProbeState('liveness', 'c1'), 'liveness', live, [bad, bad]);
    expect(s).toMatchObject({ result: 'success', onHold: false });
    s = run(s, 'liveness', live, [bad]);
    expect(s).toMatchObject({ result: 'failure', onHold: true });
    const ctx: ProbeContext = { now: 0, container: { containerId: 'c1', running: true, startedAt: 0 }, started: true, terminating: false };
    expect(decide(s, 'liveness', live, ctx)).toEqual({ kind: 'idle', why: 'on-hold' });

    const fresh = observeContainer(s, 'liveness', { containerId: 'c2', running: true });
    expect(fresh).toMatchObject({ containerId: 'c2', result: 'success', onHold: false, consecutiveFailures: 0 });
    expect(decide(fresh, 'liveness', live, { ...ctx, container: { containerId: 'c2', running: true, startedAt: 0 } })).toEqual({ kind: 'probe' });
  });

  it('decides startup once either threshold is reached, then holds', () => {
    const startup = probeSettings({ failureThreshold: 2 }, 'startup');
    const passed = run(initialProbeState('startup', 'c1'), 'startup', startup, [bad, ok]);
    expect(passed).toMatchObject({ result: 'success', onHold: true });
    const failed = run(initialProbeState('startup', 'c1'), 'startup', startup, [bad, bad]);
    expect(failed).toMatchObject({ result: 'failure', onHold: true });
    const pending = run(initialProbeState('startup', 'c1'), 'startup', startup, [bad]);
    expect(pending).toMatchObject({ result: 'unknown', onHold: false });
  });

  it('throws away a run that errored but keeps its message', () => {
    const s = recordError(run(initialProbeState('readiness', 'c1'), 'readiness', settings, [ok]), "couldn't find port: web", 99);
    expect(s).toMatchObject({ result: 'failure', consecutiveSuccesses: 1, consecutiveFailures: 0, lastError: "couldn't find port: web", lastProbeTime: 99 });
  });
});

describe('probe state: when to probe', () => {
  const settings = probeSettings({ initialDelaySeconds: 15 }, 'readiness');
  const container = { containerId: 'c1', running: true, startedAt: 1_000 };
  const state = observeContainer(initialProbeState('readiness'), 'readiness', container);

  it('waits out initialDelaySeconds from the container start', () => {
    const clock = new FakeClock(1_000);
    clock.advance(14_999);
    expect(decide(state, 'readiness', settings, { now: clock.now(), container, started: true, terminating: false })).toEqual({ kind: 'wait', at: 16_000 });
    clock.advance(1);
    expect(decide(state, 'readiness', settings, { now: clock.now(), container, started: true, terminating: false })).toEqual({ kind: 'probe' });
  });

  it('keeps liveness and readiness back until the startup probe has succeeded', () => {
    const ctx: ProbeContext = { now: 20_000, container, started: false, terminating: false };
    expect(decide(state, 'readiness', settings, ctx)).toEqual({ kind: 'idle', why: 'not-started' });
    const live = observeContainer(initialProbeState('liveness'), 'liveness', container);
    expect(decide(live, 'liveness', probeSettings({}, 'liveness'), ctx)).toEqual({ kind: 'idle', why: 'not-started' });
    const startup = observeContainer(initialProbeState('startup'), 'startup', container);
    expect(decide(startup, 'startup', probeSettings({}, 'startup'), ctx)).toEqual({ kind: 'probe' });
    expect(decide(state, 'readiness', settings, { ...ctx, started: true })).toEqual({ kind: 'probe' });
  });

  it('does not probe a container that is not running, and marks it not ready', () => {
    const ready = run(state, 'readiness', settings, [ok]);
    expect(ready.result).toBe('success');
    const stopped = { ...container, running: false };
    const after = observeContainer(ready, 'readiness', stopped);
    expect(after.result).toBe('failure');
    expect(decide(after, 'readiness', settings, { now: 20_000, container: stopped, started: true, terminating: false })).toEqual({
      kind: 'idle',
      why: 'not-running',
    });
    expect(decide(after, 'readiness', settings, { now: 20_000, started: true, terminating: false })).toEqual({ kind: 'idle', why: 'no-container' });
  });

  it('quiets liveness and startup of a pod being deleted, but keeps readiness probing', () => {
    const live = run(observeContainer(initialProbeState('liveness'), 'liveness', container), 'liveness', probeSettings({ failureThreshold: 1 }, 'liveness'), [
      bad,
    ]);
    expect(live.result).toBe('failure');
    expect(podTerminating(live, 'liveness')).toMatchObject({ result: 'success', onHold: true });
    const startup = observeContainer(initialProbeState('startup'), 'startup', container);
    expect(podTerminating(startup, 'startup')).toMatchObject({ result: 'success', onHold: true });
    expect(podTerminating(state, 'readiness')).toBe(state);
    expect(decide(state, 'readiness', settings, { now: 20_000, container, started: true, terminating: true })).toEqual({ kind: 'probe' });
  });
});
