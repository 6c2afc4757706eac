import { describe, expect, it } from 'vitest';
import type { Container, Pod } from '../../../agent/api/types.js';
import type { EventRecorder, EventType } from '../../../agent/events/event-recorder.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { ProbeManager, type ProbePodStatus } from '../../../agent/probes/probe-manager.js';
import type { ExecOptions, ExecResult, Runtime } from '../../../agent/runtime/runtime.js';
import { FakeClock } from '../../../agent/api/clock.js';

const flush = () => new Promise((r) => setImmediate(r));

/** Containers answer `check <name>` with exit 0 when the name is in their set of healthy checks. */
class CheckRuntime {
  readonly healthy = new Map<string, Set<string>>();
  readonly calls: Array<{ id: string; check: string }> = [];
  inFlight = 0;
  maxInFlight = 0;
  hold?: Promise<void>;

  set(id: string, ...checks: string[]): void {
    this.healthy.set(id, new Set(checks));
  }

  async exec(id: string, cmd: string[], _options?: ExecOptions): Promise<ExecResult> {
    const check = cmd[1] ?? '';
    this.calls.push({ id, check });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hold) await this.hold;
      const ok = this.healthy.get(id)?.has(check) ?? false;
      return { exitCode: ok ? 0 : 1, stdout: Buffer.alloc(0), stderr: Buffer.from(ok ? '' : `${check} is down`), timedOut: false };
    } finally {
      this.inFlight--;
    }
  }
}

class Events implements EventRecorder {
  readonly list: Array<{ type: EventType; reason: string; message: string }> = [];
  record(_pod: Pod, type: EventType, reason: string, message: string): void {
    this.list.push({ type, reason, message });
  }
}

const check = (name: string, extra: Record<string, number> = {}) => ({ exec: { command: ['check', name] }, periodSeconds: 1, ...extra });

function podWith(containers: Container[], uid = 'uid-1'): Pod {
  return { metadata: { name: 'web', namespace: 'default', uid }, spec: { containers } };
}

function setup(options: { execConcurrency?: number } = {}) {
  const clock = new FakeClock(0);
  const runtime = new CheckRuntime();
  const events = new Events();
  const changed: string[] = [];
  const manager = new ProbeManager({
    runtime: runtime as unknown as Runtime,
    clock,
    logger: silentLogger,
    events,
    random: () => 0,
    onChange: (uid) => changed.push(uid),
    ...options,
  });
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
  return { clock, runtime, events, changed, manager, step };
}

const running = (containerId: string, name = 'app', startedAt = new Date(0)): ProbePodStatus['containers'][number] => ({
  name,
  containerId,
  running: true,
  startedAt,
});

describe('ProbeManager', () => {
  it('reports readiness per container: not ready until the probe succeeds, and follows it both ways', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', readinessProbe: check('ready') }, { name: 'plain' }]);
    expect(t.manager.readiness('uid-1')).toEqual(new Map());
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1'), running('p1', 'plain')] });
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', false]]));
    await flush();
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', false]]));
    expect(t.events.list).toContainEqual({ type: 'Warning', reason: 'Unhealthy', message: 'Readiness probe failed: ready is down' });

    t.runtime.set('c1', 'ready');
    await t.step(1_000);
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', true]]));
    expect(t.changed).toEqual(['uid-1']);

    t.runtime.set('c1');
    await t.step(3_000);
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', false]]));
    expect(t.changed).toEqual(['uid-1', 'uid-1']);
    t.manager.stop();
  });

  it('holds liveness and readiness back until the startup probe succeeds', async () => {
    const t = setup();
    const pod = podWith([
      { name: 'app', startupProbe: check('started'), livenessProbe: check('alive'), readinessProbe: check('ready', { periodSeconds: 10 }) },
    ]);
    t.runtime.set('c1', 'alive', 'ready');
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(2_000);
    expect(t.runtime.calls.every((c) => c.check === 'started')).toBe(true);
    expect(t.manager.started('uid-1')).toEqual(new Map([['app', false]]));
    expect(t.manager.startupPending('uid-1')).toEqual(new Set(['app']));

    t.runtime.set('c1', 'started', 'alive', 'ready');
    const before = t.runtime.calls.length;
    await t.step(1_000);
    expect(t.manager.started('uid-1')).toEqual(new Map([['app', true]]));
    expect(t.manager.startupPending('uid-1')).toEqual(new Set());
    // Readiness is probed as soon as startup succeeds, not a (10 s) period later.
    expect(t.runtime.calls.slice(before).map((c) => c.check)).toEqual(['started', 'ready']);
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', true]]));
    await t.step(1_000);
    expect(t.runtime.calls.slice(before).map((c) => c.check)).toContain('alive');
    // A startup probe that has succeeded is not run again for this container.
    expect(t.runtime.calls.slice(before + 1).map((c) => c.check)).not.toContain('started');
    t.manager.stop();
  });

  it('reports a liveness failure for the current container until acknowledged, and starts afresh on restart', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', livenessProbe: check('alive', { failureThreshold: 2 }) }]);
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(0);
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map());
    await t.step(1_000);
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map([['app', 'liveness']]));
    expect(t.changed).toEqual(['uid-1']);
    expect(t.events.list.filter((e) => e.message === 'Liveness probe failed: alive is down')).toHaveLength(2);
    // On hold: no more execs into a container about to be killed.
    const calls = t.runtime.calls.length;
    await t.step(3_000);
    expect(t.runtime.calls).toHaveLength(calls);

    t.manager.acknowledgeRestart('uid-1', 'app');
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map());

    t.runtime.set('c2', 'alive');
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c2', 'app', new Date(4_000))] });
    expect(t.manager.results('uid-1').app?.liveness).toMatchObject({ containerId: 'c2', result: 'success', consecutiveFailures: 0 });
    await t.step(1_000);
    expect(t.runtime.calls.at(-1)).toEqual({ id: 'c2', check: 'alive' });
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map());
    t.manager.stop();
  });

  it('reports a startup probe that failed its threshold as unhealthy', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', startupProbe: check('started', { failureThreshold: 3 }) }]);
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(0);
    await t.step(1_000);
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map());
    await t.step(1_000);
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map([['app', 'startup']]));
    expect(t.manager.started('uid-1')).toEqual(new Map([['app', false]]));
    t.manager.stop();
  });

  it('quiets liveness of a pod being deleted', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', livenessProbe: check('alive', { failureThreshold: 1 }) }]);
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(0);
    expect(t.manager.unhealthy('uid-1').get('app')).toBe('liveness');
    t.manager.syncPod({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: '2026-01-01T00:00:10Z' } }, { podIP: '10.0.0.2', containers: [running('c1')] });
    expect(t.manager.unhealthy('uid-1')).toEqual(new Map());
    t.manager.stop();
  });

  it('stops the workers of a container that is gone and of a removed pod', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', readinessProbe: check('ready') }]);
    t.runtime.set('c1', 'ready');
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(0);
    await t.step(2_000);
    expect(t.manager.results('uid-1').app?.readiness).toMatchObject({ result: 'success', lastResult: 'success', consecutiveSuccesses: 3 });

    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [] });
    const calls = t.runtime.calls.length;
    await t.step(3_000);
    expect(t.runtime.calls).toHaveLength(calls);
    expect(t.manager.results('uid-1')).toEqual({});
    expect(t.manager.readiness('uid-1')).toEqual(new Map([['app', false]]));

    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    t.manager.removePod('uid-1');
    await t.step(3_000);
    expect(t.manager.readiness('uid-1')).toEqual(new Map());
    t.manager.stop();
  });

  it('marks a container that stopped running not ready', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', readinessProbe: check('ready') }]);
    t.runtime.set('c1', 'ready');
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await flush();
    expect(t.manager.readiness('uid-1').get('app')).toBe(true);
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [{ name: 'app', containerId: 'c1', running: false }] });
    expect(t.manager.readiness('uid-1').get('app')).toBe(false);
    t.manager.stop();
  });

  it('shows results and latencies for the CLI and benchmarks', async () => {
    const t = setup();
    const pod = podWith([{ name: 'app', readinessProbe: check('ready'), livenessProbe: check('alive') }]);
    t.runtime.set('c1', 'ready');
    t.manager.syncPod(pod, { podIP: '10.0.0.2', containers: [running('c1')] });
    await t.step(0);
    const results = t.manager.results('uid-1');
    expect(results.app?.liveness).toMatchObject({
      containerId: 'c1',
      result: 'success',
      lastResult: 'failure',
      consecutiveSuccesses: 0,
      consecutiveFailures: 1,
      lastError: 'alive is down',
      lastProbeTime: '1970-01-01T00:00:00.000Z',
    });
    expect(results.app?.readiness?.lastLatencyMs).toBeGreaterThanOrEqual(0);
    expect(t.manager.latencies('readiness')).toHaveLength(1);
    expect(t.manager.latencies('liveness')).toHaveLength(1);
    expect(t.manager.latencies('exec')).toHaveLength(2);
    expect(t.manager.latencies()).toHaveLength(2);
    t.manager.stop();
  });

  it('bounds exec probes running at once across pods', async () => {
    const t = setup({ execConcurrency: 2 });
    let release!: () => void;
    t.runtime.hold = new Promise((r) => {
      release = r;
    });
    for (let i = 0; i < 5; i++) {
      t.manager.syncPod(podWith([{ name: 'app', readinessProbe: check('ready') }], `uid-${i}`), { podIP: '10.0.0.2', containers: [running(`c${i}`)] });
    }
    await flush();
    expect(t.runtime.inFlight).toBe(2);
    release();
    for (let i = 0; i < 5; i++) await flush();
    expect(t.runtime.calls).toHaveLength(5);
    expect(t.runtime.maxInFlight).toBe(2);
    t.manager.stop();
  });
});
