// The pod lifecycle event generator against an in-memory runtime and a fake clock:
// which events a relist sends, how it backs off while the runtime is down, how the
// engine's event stream wakes pods, and when it counts as unhealthy.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { GenericPLEG } from '../../../agent/pleg/generic-pleg.js';
import type { PodLifecycleEvent } from '../../../agent/pleg/pod-lifecycle-event.js';
import { RuntimeUnavailableError } from '../../../agent/runtime/errors.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, nodeSelectorLabels } from '../../../agent/runtime/labels.js';
import type { ContainerConfig } from '../../../agent/runtime/runtime.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { FakeRuntime } from '../../support/fake-runtime.js';

const NODE = 'node-a';
const PERIOD_MS = 1_000;
const silent = pino({ level: 'silent' });

function podLabels(uid: string, node = NODE): Record<string, string> {
  return { ...nodeSelectorLabels(node), [LABEL_POD_UID]: uid, [LABEL_POD_NAME]: `pod-${uid}`, [LABEL_POD_NAMESPACE]: 'default' };
}

/** Starts a sandbox and one running container for `uid`; resolves to the container's ID. */
async function runPod(runtime: FakeRuntime, uid: string, node = NODE): Promise<string> {
  const labels = podLabels(uid, node);
  const sandbox = await runtime.runPodSandbox({
    metadata: { name: `pod-${uid}`, namespace: 'default', uid, attempt: 0 },
    hostname: uid,
    portMappings: [],
    labels,
    annotations: {},
    networkName: 'n',
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
    image: 'pause',
  });
  const config = { metadata: { name: 'main', attempt: 0 }, image: 'busybox', labels, annotations: {}, mounts: [] } as unknown as ContainerConfig;
  const id = await runtime.createContainer(sandbox, config);
  await runtime.startContainer(id);
  return id;
}

describe('GenericPLEG', () => {
  let runtime: FakeRuntime;
  let clock: FakeClock;
  let pleg: GenericPLEG;
  let events: PodLifecycleEvent[];

  beforeEach(() => {
    runtime = new FakeRuntime();
    clock = new FakeClock();
    pleg = new GenericPLEG({ runtime, nodeName: NODE, clock, logger: silent, relistPeriodMs: PERIOD_MS });
    events = [];
    pleg.watch((e) => events.push(e));
  });
  afterEach(() => pleg.stop());

  const changed = () =>
    events
      .filter((e) => e.type === 'PodChanged')
      .map((e) => (e as { uid: string }).uid)
      .sort();
  const relisted = () => events.filter((e): e is Extract<PodLifecycleEvent, { type: 'Relisted' }> => e.type === 'Relisted');

  /** Moves the fake clock and lets the relist it started finish. */
  async function tick(ms: number): Promise<void> {
    clock.advance(ms);
    await vi.waitFor(async () => {
      await pleg.relist();
    });
  }

  it('sends PodChanged for every pod of this node on the first relist, then Relisted with them', async () => {
    await runPod(runtime, 'a');
    await runPod(runtime, 'b');
    await runPod(runtime, 'other', 'node-b');
    await pleg.relist();
    expect(changed()).toEqual(['a', 'b']);
    const last = relisted().at(-1)!;
    expect([...last.pods.keys()].sort()).toEqual(['a', 'b']);
    expect(last.pods.get('a')?.[LABEL_POD_NAME]).toBe('pod-a');
    expect(events.at(-1)?.type).toBe('Relisted');
    expect([...pleg.podsInRuntime()!.keys()].sort()).toEqual(['a', 'b']);
  });

  it('sends PodChanged only for pods whose sandboxes or containers changed since the last relist', async () => {
    const a = await runPod(runtime, 'a');
    await runPod(runtime, 'b');
    await pleg.relist();
    events = [];
    await pleg.relist();
    expect(changed()).toEqual([]);
    expect(relisted()).toHaveLength(1);

    runtime.exit(a, 1);
    await runPod(runtime, 'c');
    events = [];
    await pleg.relist();
    expect(changed()).toEqual(['a', 'c']);
  });

  it('knows nothing of the runtime before its first relist', () => {
    expect(pleg.podsInRuntime()).toBeUndefined();
  });

  it('runs one relist at a time: a call during one runs one more after it', async () => {
    let lists = 0;
    const list = runtime.listContainers.bind(runtime);
    vi.spyOn(runtime, 'listContainers').mockImplementation(async (f) => {
      lists++;
      return list(f);
    });
    await Promise.all([pleg.relist(), pleg.relist(), pleg.relist()]);
    expect(lists).toBe(2);
  });

  it('relists every period once started', async () => {
    pleg.start();
    await runPod(runtime, 'a');
    clock.advance(PERIOD_MS - 1);
    expect(events).toEqual([]);
    await tick(1);
    expect(changed()).toContain('a');
    const before = relisted().length;
    await tick(PERIOD_MS);
    expect(relisted().length).toBeGreaterThan(before);
  });

  it('reports the runtime down once, relists at twice the period meanwhile, and up again when a relist succeeds', async () => {
    const list = vi.spyOn(runtime, 'listPodSandboxes').mockRejectedValue(new RuntimeUnavailableError('connect ENOENT'));
    pleg.start();
    await tick(PERIOD_MS);
    await tick(2 * PERIOD_MS);
    expect(events.filter((e) => e.type === 'RuntimeDown')).toHaveLength(1);
    expect(relisted()).toHaveLength(0);

    // While down the next relist comes after twice the period, not one period.
    const calls = list.mock.calls.length;
    clock.advance(PERIOD_MS);
    await Promise.resolve();
    expect(list.mock.calls.length).toBe(calls);

    list.mockRestore();
    await tick(PERIOD_MS);
    expect(events.filter((e) => e.type === 'RuntimeUp')).toHaveLength(1);
    expect(relisted().length).toBeGreaterThan(0);
  });

  it('wakes a pod on engine events that change it behind its worker, not on its own creates and starts', async () => {
    pleg.start();
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(1));
    const event = (action: string, uid = 'a') => ({ kind: 'container' as const, id: 'c1', action, labels: podLabels(uid), time: new Date() });
    runtime.emitEvent(event('create'));
    runtime.emitEvent(event('start'));
    runtime.emitEvent(event('die'));
    runtime.emitEvent(event('oom', 'b'));
    await vi.waitFor(() => expect(changed()).toEqual(['a', 'b']));
    runtime.emitEvent({ kind: 'container', id: 'c2', action: 'die', labels: {}, time: new Date() });
    await Promise.resolve();
    expect(changed()).toEqual(['a', 'b']);
  });

  it('reopens a broken event stream after a second and relists to catch up', async () => {
    // A long relist period, so the only relist is the one after the reopening.
    pleg = new GenericPLEG({ runtime, nodeName: NODE, clock, logger: silent, relistPeriodMs: 60_000 });
    pleg.watch((e) => events.push(e));
    pleg.start();
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(1));
    runtime.endEventStreams();
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(0));
    clock.advance(999);
    await Promise.resolve();
    expect(relisted()).toHaveLength(0);
    clock.advance(1);
    await vi.waitFor(() => expect(relisted()).toHaveLength(1));
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(1));
  });

  it('stops relisting and closes the event stream on stop', async () => {
    pleg.start();
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(1));
    pleg.stop();
    await vi.waitFor(() => expect(runtime.openEventStreams).toBe(0));
    clock.advance(10 * PERIOD_MS);
    await Promise.resolve();
    expect(relisted()).toHaveLength(0);
  });

  it('keeps sending to other listeners when one throws, and stops sending to one that unsubscribed', async () => {
    const seen: string[] = [];
    pleg.watch(() => {
      throw new Error('broken listener');
    });
    const unwatch = pleg.watch((e) => seen.push(e.type));
    await pleg.relist();
    expect(relisted()).toHaveLength(1);
    expect(seen).toEqual(['Relisted']);
    unwatch();
    await pleg.relist();
    expect(seen).toEqual(['Relisted']);
  });

  describe('healthy()', () => {
    it('is unhealthy until the first relist succeeds', async () => {
      expect(pleg.healthy()).toEqual({ healthy: false, message: 'pleg has yet to be successful' });
      await pleg.relist();
      expect(pleg.healthy()).toEqual({ healthy: true });
    });

    it('stays healthy while relists succeed, however long the agent runs', async () => {
      pleg.start();
      for (let i = 0; i < 400; i++) await tick(PERIOD_MS);
      expect(pleg.healthy()).toEqual({ healthy: true });
    });

    it('turns unhealthy once the last successful relist is older than 3 minutes, in kubelet words', async () => {
      await pleg.relist();
      vi.spyOn(runtime, 'listContainers').mockRejectedValue(new RuntimeUnavailableError('down'));
      clock.advance(180_000);
      await pleg.relist();
      expect(pleg.healthy()).toEqual({ healthy: true }); // exactly at the threshold: still healthy
      clock.advance(5_000);
      expect(pleg.healthy()).toEqual({ healthy: false, message: 'pleg was last seen active 3m5s ago; threshold is 3m0s' });
    });

    it('counts a relist from when it started, so one that hangs makes the node unhealthy', async () => {
      await pleg.relist();
      let release!: () => void;
      const list = vi.spyOn(runtime, 'listContainers').mockImplementation(
        () =>
          new Promise((resolve) => {
            release = () => resolve([]);
          }),
      );
      const hung = pleg.relist();
      clock.advance(200_000);
      expect(pleg.healthy()).toMatchObject({ healthy: false, message: 'pleg was last seen active 3m20s ago; threshold is 3m0s' });
      list.mockRestore();
      release();
      await hung;
      // The relist that hung started 200 s ago: still too old.
      expect(pleg.healthy()).toMatchObject({ healthy: false });
      await pleg.relist();
      expect(pleg.healthy()).toEqual({ healthy: true });
    });

    it('takes its threshold from the options', async () => {
      const quick = new GenericPLEG({ runtime, nodeName: NODE, clock, logger: silent, relistPeriodMs: PERIOD_MS, relistThresholdMs: 10_000 });
      await quick.relist();
      clock.advance(10_500);
      expect(quick.healthy()).toEqual({ healthy: false, message: 'pleg was last seen active 10.5s ago; threshold is 10s' });
    });
  });
});
