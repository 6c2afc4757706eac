import { describe, expect, it } from 'vitest';
import { formatTime } from '../../../agent/api/time.js';
import type { Container, Pod, PodCondition, PodSpec, PodStatus } from '../../../agent/api/types.js';
import { hashContainer } from '../../../agent/pods/container-hash.js';
import { computePodStatus, computeQOSClass, type PodStatusInput } from '../../../agent/pods/pod-status.js';
import type { RuntimePodStatus, WaitingOverrides } from '../../../agent/pods/types.js';
import { LABEL_CONTAINER_HASH, LABEL_CONTAINER_NAME, LABEL_RESTART_COUNT } from '../../../agent/runtime/labels.js';
import type { ContainerState, ContainerStatus, PodSandboxStatus } from '../../../agent/runtime/runtime.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (s: number) => new Date(T0 + s * 1000);
const iso = (s: number) => formatTime(at(s));
const IMAGE = 'nodelet/busybox:0.1.0';

function pod(spec: Partial<PodSpec> = {}, names: string[] = ['app']): Pod {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'uid-web' },
    spec: { restartPolicy: 'Always', containers: names.map((name) => ({ name, image: IMAGE })), ...spec },
  };
}

function fakeSandbox(over: Partial<PodSandboxStatus> = {}): PodSandboxStatus {
  return {
    id: 'sb1',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-web', attempt: 0 },
    state: 'ready',
    createdAt: at(0),
    ip: '10.0.0.2',
    labels: {},
    annotations: {},
    hostNetwork: false,
    ...over,
  };
}

let seq = 0;
function fakeContainerStatus(
  spec: Container,
  over: {
    state?: ContainerState;
    exitCode?: number;
    restartCount?: number;
    startedAt?: number;
    finishedAt?: number;
    reason?: string;
    message?: string;
    sandbox?: string;
  } = {},
): ContainerStatus {
  const { state = 'running', restartCount = 0, sandbox = 'sb1' } = over;
  seq++;
  return {
    id: `cid${seq}`,
    podSandboxId: sandbox,
    metadata: { name: spec.name, attempt: restartCount },
    image: spec.image ?? '',
    imageRef: `sha256:${spec.name}`,
    state,
    createdAt: at(seq),
    labels: { [LABEL_CONTAINER_NAME]: spec.name, [LABEL_CONTAINER_HASH]: hashContainer(spec), [LABEL_RESTART_COUNT]: String(restartCount) },
    annotations: {},
    mounts: [],
    ...(state !== 'created' ? { startedAt: at(over.startedAt ?? seq) } : {}),
    ...(state === 'exited' ? { exitCode: over.exitCode ?? 0, finishedAt: at(over.finishedAt ?? seq + 1) } : {}),
    ...(over.reason ? { reason: over.reason } : {}),
    ...(over.message ? { message: over.message } : {}),
  };
}

function input(p: Pod, containers: ContainerStatus[], over: Partial<PodStatusInput> = {}): PodStatusInput {
  const runtime: RuntimePodStatus = { uid: 'uid-web', sandboxes: [fakeSandbox()], containers };
  return { pod: p, runtime, waiting: new Map(), hostIP: '192.0.2.10', now: at(100), runtimeType: 'docker', ...over };
}

const cond = (s: PodStatus, type: string): PodCondition | undefined => s.conditions?.find((c) => c.type === type);
const byName = (s: PodStatus, name: string) => [...(s.initContainerStatuses ?? []), ...(s.containerStatuses ?? [])].find((c) => c.name === name)!;

describe('computePodStatus: container statuses', () => {
  it('reports a running container with its ID, image, start time and readiness', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { startedAt: 5 });
    const s = computePodStatus(input(p, [c]));
    expect(s.containerStatuses).toEqual([
      {
        name: 'app',
        image: IMAGE,
        imageID: 'sha256:app',
        containerID: `docker://${c.id}`,
        state: { running: { startedAt: iso(5) } },
        lastState: {},
        ready: true,
        started: true,
        restartCount: 0,
      },
    ]);
    expect(s.initContainerStatuses).toBeUndefined();
    expect(s.phase).toBe('Running');
  });

  it('waits with ContainerCreating before a container exists, PodInitializing while init containers run', () => {
    expect(byName(computePodStatus(input(pod(), [])), 'app').state).toEqual({ waiting: { reason: 'ContainerCreating' } });

    const p = pod({
      initContainers: [
        { name: 'i1', image: IMAGE },
        { name: 'i2', image: IMAGE },
      ],
    });
    const s = computePodStatus(input(p, [fakeContainerStatus(p.spec.initContainers![0]!)]));
    expect(byName(s, 'i1').state.running).toBeDefined();
    expect(byName(s, 'i2').state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(byName(s, 'app').state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(s.phase).toBe('Pending');
    expect(cond(s, 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [i1 i2]',
    });
  });

  it('switches app containers to ContainerCreating once init containers completed, and marks them ready', () => {
    const p = pod({ initContainers: [{ name: 'i1', image: IMAGE }] });
    const s = computePodStatus(input(p, [fakeContainerStatus(p.spec.initContainers![0]!, { state: 'exited', exitCode: 0 })]));
    expect(byName(s, 'i1')).toMatchObject({ ready: true, started: false, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    expect(byName(s, 'app').state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    expect(cond(s, 'Initialized')).toMatchObject({ status: 'True' });
  });

  it('reports a terminated container with reason, times, ID and the termination message', () => {
    const p = pod({ restartPolicy: 'Never' });
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 3, startedAt: 10, finishedAt: 20 });
    const s = computePodStatus(input(p, [c], { terminationMessages: new Map([[c.id, 'disk full']]) }));
    expect(byName(s, 'app').state.terminated).toEqual({
      exitCode: 3,
      reason: 'Error',
      message: 'disk full',
      startedAt: iso(10),
      finishedAt: iso(20),
      containerID: `docker://${c.id}`,
    });
    expect(byName(s, 'app').ready).toBe(false);
    expect(s.phase).toBe('Failed');
  });

  it('keeps the engine reason (OOMKilled) and joins its message with the termination message', () => {
    const p = pod({ restartPolicy: 'Never' });
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 137, reason: 'OOMKilled', message: 'killed' });
    const s = computePodStatus(input(p, [c], { terminationMessages: new Map([[c.id, 'bye']]) }));
    expect(byName(s, 'app').state.terminated).toMatchObject({ reason: 'OOMKilled', message: 'killed: bye' });
  });

  it('takes restartCount from the newest instance and lastState from the one before', () => {
    const p = pod();
    const first = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 1, restartCount: 2 });
    const second = fakeContainerStatus(p.spec.containers[0]!, { restartCount: 3 });
    const s = computePodStatus(input(p, [second, first]));
    expect(byName(s, 'app')).toMatchObject({
      restartCount: 3,
      containerID: `docker://${second.id}`,
      lastState: { terminated: { exitCode: 1, reason: 'Error', containerID: `docker://${first.id}` } },
    });
  });

  it('shows a crash loop as kubectl does: waiting CrashLoopBackOff now, the exit as lastState', () => {
    const p = pod();
    const older = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 1, restartCount: 1 });
    const newest = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 2, restartCount: 2 });
    const message = 'back-off 20s restarting failed container=app pod=web_default(uid-web)';
    const waiting: WaitingOverrides = new Map([['app', { reason: 'CrashLoopBackOff', message }]]);
    const s = computePodStatus(input(p, [newest, older], { waiting }));
    const app = byName(s, 'app');
    expect(app.state).toEqual({ waiting: { reason: 'CrashLoopBackOff', message } });
    expect(app.lastState.terminated).toMatchObject({ exitCode: 2, containerID: `docker://${newest.id}` });
    expect(app.restartCount).toBe(2);
    expect(app.ready).toBe(false);
    expect(s.phase).toBe('Running');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' });
  });

  it('shows image and config errors of a container that does not exist yet', () => {
    const waiting: WaitingOverrides = new Map([['app', { reason: 'ErrImagePull', message: 'pull access denied' }]]);
    const s = computePodStatus(input(pod(), [], { waiting }));
    expect(byName(s, 'app').state).toEqual({ waiting: { reason: 'ErrImagePull', message: 'pull access denied' } });
    expect(s.phase).toBe('Pending');
  });

  it('ignores a waiting reason for a container that will not run again or is running', () => {
    const never = pod({ restartPolicy: 'Never' });
    const exited = fakeContainerStatus(never.spec.containers[0]!, { state: 'exited', exitCode: 1 });
    const waiting: WaitingOverrides = new Map([['app', { reason: 'CrashLoopBackOff' }]]);
    expect(byName(computePodStatus(input(never, [exited], { waiting })), 'app').state.terminated?.exitCode).toBe(1);
    const running = fakeContainerStatus(pod().spec.containers[0]!);
    expect(byName(computePodStatus(input(pod(), [running], { waiting })), 'app').state.running).toBeDefined();
  });

  it('waits for a container created but not started, with the override reason when there is one', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'created' });
    expect(byName(computePodStatus(input(p, [c])), 'app').state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    const waiting: WaitingOverrides = new Map([['app', { reason: 'RunContainerError', message: 'exec format error' }]]);
    expect(byName(computePodStatus(input(p, [c], { waiting })), 'app').state.waiting?.reason).toBe('RunContainerError');
  });

  it('applies readiness and startup probe results', () => {
    const p = pod({}, ['a', 'b']);
    const cs = p.spec.containers.map((c) => fakeContainerStatus(c));
    const s = computePodStatus(input(p, cs, { readiness: new Map([['a', false]]), started: new Map([['b', false]]) }));
    expect(byName(s, 'a')).toMatchObject({ ready: false, started: true });
    expect(byName(s, 'b')).toMatchObject({ ready: false, started: false });
    expect(cond(s, 'ContainersReady')).toMatchObject({ status: 'False', message: 'containers with unready status: [a b]' });
  });

  it('reports a lost container that was running as terminated, not as never run', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'unknown', restartCount: 1 });
    const previous = computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!, { restartCount: 1 })]));
    const s = computePodStatus(input(p, [c], { previous }));
    expect(byName(s, 'app').state.terminated).toMatchObject({ exitCode: 137, reason: 'ContainerStatusUnknown' });
    expect(byName(s, 'app').restartCount).toBe(2);
  });
});

describe('computePodStatus: conditions', () => {
  it('reports all conditions True for a ready pod, in kubelet order', () => {
    const p = pod();
    const s = computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!)]));
    expect(s.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual([
      'PodReadyToStartContainers=True',
      'Initialized=True',
      'Ready=True',
      'ContainersReady=True',
      'PodScheduled=True',
    ]);
    expect(s.conditions?.every((c) => c.lastTransitionTime === iso(100))).toBe(true);
  });

  it('keeps lastTransitionTime while a status holds and moves it when the status changes', () => {
    const p = pod();
    const first = computePodStatus(input(p, [], { now: at(100) }));
    expect(cond(first, 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: iso(100) });
    const running = fakeContainerStatus(p.spec.containers[0]!);
    const second = computePodStatus(input(p, [running], { previous: first, now: at(200) }));
    expect(cond(second, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: iso(200) });
    expect(cond(second, 'PodScheduled')?.lastTransitionTime).toBe(iso(100));
    expect(cond(second, 'Initialized')?.lastTransitionTime).toBe(iso(100));
    const third = computePodStatus(input(p, [running], { previous: second, now: at(300) }));
    expect(cond(third, 'Ready')?.lastTransitionTime).toBe(iso(200));
    expect(third.startTime).toBe(iso(100));
  });

  it('is not ready to start containers without a ready sandbox', () => {
    const s = computePodStatus(input(pod(), [], { runtime: { uid: 'uid-web', sandboxes: [fakeSandbox({ state: 'notready' })], containers: [] } }));
    expect(cond(s, 'PodReadyToStartContainers')?.status).toBe('False');
    expect(s.podIP).toBeUndefined();
  });

  it('sets Ready and ContainersReady False with PodCompleted once the pod finished', () => {
    for (const exitCode of [0, 1]) {
      const p = pod({ restartPolicy: 'Never' });
      const s = computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode })]));
      expect(s.phase).toBe(exitCode === 0 ? 'Succeeded' : 'Failed');
      expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
      expect(cond(s, 'ContainersReady')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    }
  });

  it('needs every readiness gate condition True for Ready, and keeps conditions it does not own', () => {
    const p = pod({ readinessGates: [{ conditionType: 'example.com/lb' }] });
    const running = fakeContainerStatus(p.spec.containers[0]!);
    const missing = computePodStatus(input(p, [running]));
    expect(cond(missing, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
      message: 'corresponding condition of pod readiness gate "example.com/lb" does not exist.',
    });
    expect(cond(missing, 'ContainersReady')?.status).toBe('True');

    p.status = { conditions: [{ type: 'example.com/lb', status: 'True' }] };
    const ready = computePodStatus(input(p, [running]));
    expect(cond(ready, 'Ready')?.status).toBe('True');
    expect(ready.conditions?.[0]).toEqual({ type: 'example.com/lb', status: 'True' });
  });
});

describe('computePodStatus: phase, addresses, start time', () => {
  it('never leaves a terminal phase', () => {
    const p = pod({ restartPolicy: 'Never' });
    const done = computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 })]));
    expect(done.phase).toBe('Succeeded');
    const later = computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!)], { previous: { ...done, reason: 'Done', message: 'all good' } }));
    expect(later).toMatchObject({ phase: 'Succeeded', reason: 'Done', message: 'all good' });
    p.status = { phase: 'Failed' };
    expect(computePodStatus(input(p, [fakeContainerStatus(p.spec.containers[0]!)])).phase).toBe('Failed');
  });

  it('reports host and pod IPs from the newest ready sandbox, and the host IP for host-network pods', () => {
    const s = computePodStatus(input(pod(), []));
    expect(s).toMatchObject({ hostIP: '192.0.2.10', hostIPs: [{ ip: '192.0.2.10' }], podIP: '10.0.0.2', podIPs: [{ ip: '10.0.0.2' }] });
    const host = computePodStatus(
      input(pod({ hostNetwork: true }), [], {
        runtime: { uid: 'uid-web', sandboxes: [fakeSandbox({ hostNetwork: true, ip: '' })], containers: [] },
      }),
    );
    expect(host.podIP).toBe('192.0.2.10');
  });

  it('starts the clock at the first status and keeps it', () => {
    const first = computePodStatus(input(pod(), [], { now: at(7) }));
    expect(first.startTime).toBe(iso(7));
    expect(computePodStatus(input(pod(), [], { now: at(70), previous: first })).startTime).toBe(iso(7));
  });
});

describe('computeQOSClass', () => {
  const withResources = (...resources: Array<Container['resources']>): Pod =>
    pod({ containers: resources.map((r, i) => ({ name: `c${i}`, image: IMAGE, ...(r ? { resources: r } : {}) })) });

  it('is BestEffort without any cpu or memory request or limit', () => {
    expect(computeQOSClass(withResources(undefined, {}))).toBe('BestEffort');
    expect(computeQOSClass(withResources({ limits: { 'nvidia.com/gpu': 1 } }))).toBe('BestEffort');
  });

  it('is Guaranteed when every container limits cpu and memory and requests equal limits', () => {
    expect(computeQOSClass(withResources({ limits: { cpu: '500m', memory: '128Mi' } }))).toBe('Guaranteed');
    expect(
      computeQOSClass(
        withResources({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1024Mi' } }, { limits: { cpu: '0.5', memory: '64Mi' } }),
      ),
    ).toBe('Guaranteed');
  });

  it('is Burstable otherwise', () => {
    expect(computeQOSClass(withResources({ requests: { cpu: '100m' } }))).toBe('Burstable');
    expect(computeQOSClass(withResources({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } }))).toBe('Burstable');
    expect(computeQOSClass(withResources({ limits: { cpu: '1', memory: '1Gi' } }, undefined))).toBe('Burstable');
    expect(computeQOSClass(withResources({ limits: { cpu: '1' } }))).toBe('Burstable');
  });

  it('is reported in the status', () => {
    expect(computePodStatus(input(withResources({ limits: { cpu: '1', memory: '1Gi' } }), [])).qosClass).toBe('Guaranteed');
  });
});
