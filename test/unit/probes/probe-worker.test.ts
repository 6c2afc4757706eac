import { describe, expect, it } from 'vitest';
import type { Probe } from '../../../agent/api/types.js';
import { ProbeError, type ProbeOutcome } from '../../../agent/probes/probe-outcome.js';
import type { ProbeType } from '../../../agent/probes/probe-settings.js';
import type { ProbeState } from '../../../agent/probes/probe-state.js';
import { ProbeWorker, type ProbeRun } from '../../../agent/probes/probe-worker.js';
import { FakeClock } from '../../../agent/api/clock.js';

const flush = () => new Promise((r) => setImmediate(r));
const success: ProbeOutcome = { result: 'success', latencyMs: 1 };
const failure: ProbeOutcome = { result: 'failure', message: 'nope', latencyMs: 1 };

function setup(type: ProbeType, probe: Probe, opts: { random?: number; started?: boolean; terminating?: boolean } = {}) {
  const clock = new FakeClock(0);
  const calls: Array<{ at: number; containerId: string; timeoutMs: number }> = [];
  const changes: Array<{ from: string; to: string }> = [];
  const runs: ProbeRun[] = [];
  const ctx = { started: opts.started ?? true, terminating: opts.terminating ?? false };
  let answer: (containerId: string) => Promise<ProbeOutcome> = async () => success;
  const worker = new ProbeWorker({
    type,
    probe,
    clock,
    random: () => opts.random ?? 0,
    execute: (containerId, timeoutMs) => {
      calls.push({ at: clock.now(), containerId, timeoutMs });
      return answer(containerId);
    },
    context: () => ctx,
    onChange: (w, previous: ProbeState) => changes.push({ from: previous.result, to: w.state.result }),
    onRun: (_w, run) => runs.push(run),
  });
  // One second at a time, letting each run's answer land, as real time would.
  const step = async (ms: number) => {
    for (let left = ms; left > 0; left -= Math.min(left, 1_000)) {
      clock.advance(Math.min(left, 1_000));
      await flush();
    }
    if (ms === 0) {
      clock.advance(0);
      await flush();
    }
  };
  return {
    clock,
    worker,
    calls,
    changes,
    runs,
    ctx,
    step,
    answer: (fn: typeof answer) => {
      answer = fn;
    },
  };
}

describe('ProbeWorker', () => {
  it('starts at a random point of the first period, then probes every period', async () => {
    const t = setup('liveness', { periodSeconds: 10, timeoutSeconds: 2 }, { random: 0.5 });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(4_999);
    expect(t.calls).toEqual([]);
    await t.step(1);
    await t.step(20_000);
    expect(t.calls).toEqual([
      { at: 5_000, containerId: 'c1', timeoutMs: 2_000 },
      { at: 15_000, containerId: 'c1', timeoutMs: 2_000 },
      { at: 25_000, containerId: 'c1', timeoutMs: 2_000 },
    ]);
  });

  it('never runs twice at once: ticks during a slow run are skipped', async () => {
    const t = setup('liveness', { periodSeconds: 1 });
    let release!: () => void;
    t.answer(
      () =>
        new Promise((r) => {
          release = () => r(success);
        }),
    );
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(0);
    await t.step(3_000);
    expect(t.calls.map((c) => c.at)).toEqual([0]);
    expect(t.worker.running).toBe(true);
    release();
    await flush();
    t.answer(async () => success);
    await t.step(1_000);
    expect(t.calls.map((c) => c.at)).toEqual([0, 4_000]);
  });

  it('pushes only changes of the published result', async () => {
    const t = setup('readiness', { periodSeconds: 1, failureThreshold: 2 });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(0);
    await t.step(2_000);
    expect(t.changes).toEqual([{ from: 'failure', to: 'success' }]);
    t.answer(async () => failure);
    await t.step(1_000);
    expect(t.changes).toHaveLength(1);
    await t.step(1_000);
    expect(t.changes).toEqual([
      { from: 'failure', to: 'success' },
      { from: 'success', to: 'failure' },
    ]);
    expect(t.runs).toHaveLength(5);
    expect(t.runs.at(-1)).toMatchObject({ type: 'readiness', containerId: 'c1', outcome: failure });
  });

  it('probes right when initialDelaySeconds end, not at the next tick', async () => {
    const t = setup('liveness', { initialDelaySeconds: 15, periodSeconds: 10 });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(14_999);
    expect(t.calls).toEqual([]);
    await t.step(1);
    expect(t.calls.map((c) => c.at)).toEqual([15_000]);
    await t.step(10_000);
    expect(t.calls.map((c) => c.at)).toEqual([15_000, 20_000]);
  });

  it('probes a new container for readiness at once, without waiting out the jitter', async () => {
    const t = setup('readiness', { periodSeconds: 10 }, { random: 0.9 });
    t.worker.start();
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    await flush();
    expect(t.calls.map((c) => c.at)).toEqual([0]);
    expect(t.worker.state.result).toBe('success');
    // A second trigger for the same instance does nothing: later runs keep to the period.
    t.worker.trigger();
    await flush();
    expect(t.calls).toHaveLength(1);
  });

  it('does not run liveness before the startup probe has succeeded', async () => {
    const t = setup('liveness', { periodSeconds: 1 }, { started: false });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(5_000);
    expect(t.calls).toEqual([]);
    t.ctx.started = true;
    await t.step(1_000);
    expect(t.calls.map((c) => c.at)).toEqual([6_000]);
  });

  it('holds a failed liveness probe until a new container, which starts afresh', async () => {
    const t = setup('liveness', { periodSeconds: 1, failureThreshold: 2 });
    t.answer(async () => failure);
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(0);
    await t.step(5_000);
    expect(t.calls).toHaveLength(2);
    expect(t.worker.state).toMatchObject({ containerId: 'c1', result: 'failure', onHold: true });
    t.answer(async () => success);
    t.worker.setContainer({ containerId: 'c2', running: true, startedAt: 5_000 });
    expect(t.worker.state).toMatchObject({ containerId: 'c2', result: 'success', consecutiveFailures: 0 });
    expect(t.changes).toEqual([
      { from: 'success', to: 'failure' },
      { from: 'failure', to: 'success' },
    ]);
    await t.step(1_000);
    expect(t.calls.at(-1)).toMatchObject({ containerId: 'c2', at: 6_000 });
  });

  it('drops the answer of a run whose container was replaced meanwhile', async () => {
    const t = setup('readiness', { periodSeconds: 10 });
    let release!: () => void;
    t.answer(
      () =>
        new Promise((r) => {
          release = () => r(success);
        }),
    );
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.setContainer({ containerId: 'c2', running: true, startedAt: 0 });
    release();
    await flush();
    expect(t.worker.state).toMatchObject({ containerId: 'c2', result: 'failure' });
    expect(t.runs).toEqual([]);
  });

  it('throws away a run that errored', async () => {
    const t = setup('readiness', { periodSeconds: 1 });
    t.answer(async () => {
      throw new ProbeError("couldn't find port: web");
    });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    await flush();
    expect(t.worker.state).toMatchObject({ result: 'failure', consecutiveFailures: 0, lastError: "couldn't find port: web" });
    expect(t.runs[0]?.error).toBeInstanceOf(ProbeError);
    expect(t.changes).toEqual([]);
  });

  it('reports success for liveness and stops when the pod is being deleted', async () => {
    const t = setup('liveness', { periodSeconds: 1, failureThreshold: 1 });
    t.answer(async () => failure);
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(0);
    expect(t.worker.state.result).toBe('failure');
    t.ctx.terminating = true;
    t.worker.refresh();
    expect(t.worker.state).toMatchObject({ result: 'success', onHold: true });
    await t.step(5_000);
    expect(t.calls).toHaveLength(1);
  });

  it('stops probing when stopped', async () => {
    const t = setup('liveness', { periodSeconds: 1 });
    t.worker.setContainer({ containerId: 'c1', running: true, startedAt: 0 });
    t.worker.start();
    await t.step(2_000);
    const before = t.calls.length;
    t.worker.stop();
    await t.step(5_000);
    expect(t.calls).toHaveLength(before);
    expect(t.worker.isStopped).toBe(true);
  });
});
