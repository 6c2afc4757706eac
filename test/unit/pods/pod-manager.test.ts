// The pod manager fed by the PLEG, against an in-memory runtime and a fake clock:
// workers woken by lifecycle events, orphans found by a relist, admission.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { Pod } from '../../../agent/api/types.js';
import { defaultConfig } from '../../../agent/config/config.js';
import { LoggingEventRecorder } from '../../../agent/events/event-recorder.js';
import { ImageManager } from '../../../agent/images/image-manager.js';
import { GenericPLEG } from '../../../agent/pleg/generic-pleg.js';
import { Backoff } from '../../../agent/api/backoff.js';
import { PodManager, type PodManagerDeps } from '../../../agent/pods/pod-manager.js';
import { LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, nodeSelectorLabels } from '../../../agent/runtime/labels.js';
import { PodStateStore } from '../../../agent/state/pod-state-store.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { BUSYBOX_IMAGE as IMAGE, defaultedPod } from '../../support/pod-fixtures.js';

const NODE = 'node-a';
const silent = pino({ level: 'silent' });

const pod = (name: string): Pod => defaultedPod(name);

describe('PodManager with the PLEG', () => {
  let root: string;
  let runtime: FakeRuntime;
  let clock: FakeClock;
  let pleg: GenericPLEG;
  let manager: PodManager | undefined;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-manager-'));
    clock = new FakeClock();
    runtime = new FakeRuntime([IMAGE, 'nodelet/pause:0.1.0']);
    runtime.now = () => new Date(clock.now());
    pleg = new GenericPLEG({ runtime, nodeName: NODE, clock, logger: silent, relistPeriodMs: 1_000 });
  });
  afterEach(async () => {
    pleg.stop();
    await manager?.stop(1_000);
    manager = undefined;
    await rm(root, { recursive: true, force: true });
  });

  function newManager(extra: Partial<PodManagerDeps> = {}): PodManager {
    const config = { ...defaultConfig(), nodeName: NODE, rootDir: root };
    const events = new LoggingEventRecorder(silent);
    manager = new PodManager({
      runtime,
      pleg,
      events,
      clock,
      config,
      logger: silent,
      images: new ImageManager(runtime, events, clock),
      store: new PodStateStore(root),
      networkName: `nodelet-${NODE}`,
      hostIP: () => '192.0.2.10',
      hostFiles: { resolvConf: () => 'nameserver 192.0.2.53\n', hosts: () => '127.0.0.1 localhost\n' },
      crashBackoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 }, clock),
      podSource: 'file',
      ...extra,
    });
    return manager;
  }

  const statusOf = (m: PodManager, name: string) => m.pods().find((p) => p.pod.metadata.name === name)?.status;
  const restarts = (m: PodManager, name: string) => statusOf(m, name)?.containerStatuses?.[0]?.restartCount;

  it('restarts a container that died once a relist reports its pod changed', async () => {
    const m = newManager();
    await pleg.relist();
    m.update({ pods: [pod('web')], rejected: [] });
    await vi.waitFor(() => expect(statusOf(m, 'web')?.phase).toBe('Running'));
    await pleg.relist();
    runtime.exit(runtime.byName('main')[0]!.status.id, 1);
    await pleg.relist();
    await vi.waitFor(() => expect(restarts(m, 'web')).toBe(1));
    expect(runtime.byName('main')[0]!.status.state).toBe('running');
  });

  it('wakes the worker on an engine event for its pod', async () => {
    const m = newManager();
    await pleg.relist();
    pleg.start();
    m.update({ pods: [pod('web')], rejected: [] });
    await vi.waitFor(() => expect(statusOf(m, 'web')?.phase).toBe('Running'));
    const main = runtime.byName('main')[0]!.status;
    runtime.exit(main.id, 1);
    runtime.emitEvent({ kind: 'container', id: main.id, action: 'die', labels: main.labels, time: new Date() });
    await vi.waitFor(() => expect(restarts(m, 'web')).toBe(1));
  });

  it('removes the containers of a pod in the runtime that no source wants, after the first snapshot', async () => {
    const labels = { ...nodeSelectorLabels(NODE), [LABEL_POD_UID]: 'uid-gone', [LABEL_POD_NAME]: 'gone', [LABEL_POD_NAMESPACE]: 'default' };
    await runtime.runPodSandbox({
      metadata: { name: 'gone', namespace: 'default', uid: 'uid-gone', attempt: 0 },
      hostname: 'gone',
      portMappings: [],
      labels,
      annotations: {},
      networkName: 'n',
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
      image: 'nodelet/pause:0.1.0',
    });
    const m = newManager();
    await pleg.relist();
    expect(runtime.sandboxes.size).toBe(1); // nothing is known unwanted before the first snapshot
    m.update({ pods: [], rejected: [] });
    await vi.waitFor(() => expect(runtime.sandboxes.size).toBe(0));
  });

  it('never refuses a pod already running here, and keeps refused pods without a worker', async () => {
    const admit = vi.fn(() => ({ admit: false as const, reason: 'OutOfpods', message: "Node didn't have enough resource: pods" }));
    const first = newManager();
    await pleg.relist();
    first.update({ pods: [pod('adopted')], rejected: [] });
    await vi.waitFor(() => expect(statusOf(first, 'adopted')?.phase).toBe('Running'));
    await first.stop(1_000);

    // An agent restart: the pod already runs, so admission is not asked about it.
    const second = newManager({ admit });
    await pleg.relist();
    second.update({ pods: [pod('adopted'), pod('new')], rejected: [] });
    expect(admit).toHaveBeenCalledTimes(1);
    expect(statusOf(second, 'new')).toMatchObject({ phase: 'Failed', reason: 'OutOfpods' });
    expect(second.worker('uid-new')).toBeUndefined();
    expect(second.worker('uid-adopted')).toBeDefined();
    // Recorded like any other pod, so `nodelet pods` shows why it is not running.
    await vi.waitFor(async () => expect((await new PodStateStore(root).loadPod('uid-new'))?.status?.reason).toBe('OutOfpods'));
  });
});
