// The pod worker against an in-memory runtime and a fake clock: what it starts,
// when it backs off, and what it removes — fast and hermetic.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { defaultConfig } from '../../../agent/config/config.js';
import { LoggingEventRecorder } from '../../../agent/events/event-recorder.js';
import { ImageManager } from '../../../agent/images/image-manager.js';
import { Backoff } from '../../../agent/api/backoff.js';
import { PodWorker } from '../../../agent/pods/pod-worker.js';
import { PodStateStore } from '../../../agent/state/pod-state-store.js';
import { FakeClock } from '../../../agent/api/clock.js';
import type { Pod, PodStatus } from '../../../agent/api/types.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { BUSYBOX_IMAGE as IMAGE, defaultedPod } from '../../support/pod-fixtures.js';

const silent = pino({ level: 'silent' });

const pod = defaultedPod;

describe('PodWorker', () => {
  let root: string;
  let runtime: FakeRuntime;
  let clock: FakeClock;
  let statuses: PodStatus[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-worker-'));
    clock = new FakeClock();
    runtime = new FakeRuntime([IMAGE, 'nodelet/pause:0.1.0']);
    runtime.now = () => new Date(clock.now());
    statuses = [];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function worker(p: Pod): PodWorker {
    const config = { ...defaultConfig(), nodeName: 'node-a', rootDir: root };
    const events = new LoggingEventRecorder(silent);
    return new PodWorker(p, {
      runtime,
      events,
      clock,
      config,
      logger: silent,
      images: new ImageManager(runtime, events, clock),
      store: new PodStateStore(root),
      networkName: 'nodelet-node-a',
      hostIP: () => '192.0.2.10',
      hostFiles: { resolvConf: () => 'nameserver 192.0.2.53\n', hosts: () => '127.0.0.1 localhost\n' },
      crashBackoff: new Backoff({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 }, clock),
      podSource: 'file',
      onStatus: (_p, s) => statuses.push(s),
    });
  }

  const last = () => statuses[statuses.length - 1];
  const main = () => last()?.containerStatuses?.find((c) => c.name === 'main');

  it('creates the sandbox, then the container, and reports Running with the pod IP', async () => {
    const w = worker(pod('web'));
    w.requestSync();
    await vi.waitFor(() => expect(last()?.phase).toBe('Running'));
    expect(runtime.calls.slice(0, 3)).toEqual(['runPodSandbox web', 'createContainer main', 'startContainer main']);
    expect(last()?.podIP).toMatch(/^10\.0\.0\./);
    expect(main()?.ready).toBe(true);
    expect(main()?.containerID).toMatch(/^docker:\/\//);
    w.stop();
  });

  it('restarts a crashed container at once, then waits out a growing back-off', async () => {
    const w = worker(pod('crash'));
    w.requestSync();
    await vi.waitFor(() => expect(main()?.state.running).toBeDefined());

    runtime.exit(runtime.byName('main')[0]!.status.id, 1);
    w.requestSync();
    await vi.waitFor(() => expect(main()?.restartCount).toBe(1));

    runtime.exit(runtime.byName('main')[0]!.status.id, 1);
    w.requestSync();
    await vi.waitFor(() => expect(main()?.state.waiting?.reason).toBe('CrashLoopBackOff'));
    expect(main()?.state.waiting?.message).toMatch(/^back-off 10s restarting failed container=main pod=crash_default\(uid-crash\)/);
    expect(main()?.lastState.terminated?.exitCode).toBe(1);
    const startsBefore = runtime.calls.filter((c) => c === 'startContainer main').length;

    clock.advance(9_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(runtime.calls.filter((c) => c === 'startContainer main').length).toBe(startsBefore);

    clock.advance(1_100);
    await vi.waitFor(() => expect(main()?.restartCount).toBe(2));

    runtime.exit(runtime.byName('main')[0]!.status.id, 1);
    w.requestSync();
    await vi.waitFor(() => expect(main()?.state.waiting?.message).toMatch(/^back-off 20s /));
    w.stop();
  });

  it('never restarts under restartPolicy Never and ends Succeeded or Failed, releasing the sandbox', async () => {
    const w = worker(pod('once', { restartPolicy: 'Never' }));
    w.requestSync();
    await vi.waitFor(() => expect(main()?.state.running).toBeDefined());
    runtime.exit(runtime.byName('main')[0]!.status.id, 3);
    w.requestSync();
    await vi.waitFor(() => expect(last()?.phase).toBe('Failed'));
    await vi.waitFor(() => expect([...runtime.sandboxes.values()].every((s) => s.status.state === 'notready')).toBe(true));
    expect(runtime.calls.filter((c) => c === 'startContainer main')).toHaveLength(1);
    expect(main()?.state.terminated?.exitCode).toBe(3);
    w.stop();
  });

  it('terminates with the pod grace period and removes containers, sandbox and state directory', async () => {
    const w = worker(pod('gone', { terminationGracePeriodSeconds: 7 }));
    w.requestSync();
    await vi.waitFor(() => expect(last()?.phase).toBe('Running'));
    const dir = new PodStateStore(root).podDir('uid-gone');
    await stat(dir);
    w.terminate({ remove: true, reason: 'test' });
    await w.done;
    expect(runtime.calls).toContain('stopContainer main 7');
    expect(runtime.containers.size).toBe(0);
    expect(runtime.sandboxes.size).toBe(0);
    await expect(stat(dir)).rejects.toThrow();
  });

  it('reports ErrImageNeverPull without touching other state', async () => {
    const p = pod('noimg');
    p.spec.containers[0]!.image = 'nodelet/absent:1';
    p.spec.containers[0]!.imagePullPolicy = 'Never';
    const w = worker(p);
    w.requestSync();
    await vi.waitFor(() => expect(main()?.state.waiting?.reason).toBe('ErrImageNeverPull'));
    expect(last()?.phase).toBe('Pending');
    expect(runtime.calls).not.toContain('createContainer main');
    w.stop();
  });
});
