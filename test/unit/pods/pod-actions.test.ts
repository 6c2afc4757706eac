import { describe, expect, it } from 'vitest';
import type { Container, Pod, PodSpec, RestartPolicy } from '../../../agent/api/types.js';
import { hashContainer } from '../../../agent/pods/container-hash.js';
import { computePodActions, podSandboxChanged } from '../../../agent/pods/pod-actions.js';
import { shouldContainerBeRestarted } from '../../../agent/pods/restart-policy.js';
import type { PodActions, RuntimePodStatus } from '../../../agent/pods/types.js';
import { LABEL_CONTAINER_HASH, LABEL_CONTAINER_NAME, LABEL_RESTART_COUNT } from '../../../agent/runtime/labels.js';
import type { ContainerState, ContainerStatus, PodSandboxStatus } from '../../../agent/runtime/runtime.js';

const T0 = Date.UTC(2026, 0, 1);
const IMAGE = 'nodelet/busybox:0.1.0';

function pod(spec: Partial<PodSpec> = {}, names: string[] = ['app']): Pod {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'uid-web' },
    spec: { restartPolicy: 'Always', containers: names.map((name) => ({ name, image: IMAGE })), ...spec },
  };
}

function fakeSandbox(over: Partial<PodSandboxStatus> & { attempt?: number } = {}): PodSandboxStatus {
  const { attempt = 0, ...rest } = over;
  return {
    id: 'sb1',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-web', attempt },
    state: 'ready',
    createdAt: new Date(T0),
    ip: '10.0.0.2',
    labels: {},
    annotations: {},
    hostNetwork: false,
    ...rest,
  };
}

let seq = 0;
/** One runtime instance of `spec`, labelled the way container-config labels it. */
function fakeContainerStatus(
  spec: Container,
  over: {
    state?: ContainerState;
    exitCode?: number;
    sandbox?: string;
    restartCount?: number;
    hash?: string;
    id?: string;
    reason?: string;
  } = {},
): ContainerStatus {
  const { state = 'running', sandbox = 'sb1', restartCount = 0 } = over;
  const id = over.id ?? `c${++seq}`;
  return {
    id,
    podSandboxId: sandbox,
    metadata: { name: spec.name, attempt: restartCount },
    image: spec.image ?? '',
    imageRef: `sha256:${spec.name}`,
    state,
    createdAt: new Date(T0 + seq * 1000),
    labels: {
      [LABEL_CONTAINER_NAME]: spec.name,
      [LABEL_CONTAINER_HASH]: over.hash ?? hashContainer(spec),
      [LABEL_RESTART_COUNT]: String(restartCount),
    },
    annotations: {},
    mounts: [],
    ...(state === 'exited' ? { exitCode: over.exitCode ?? 0, finishedAt: new Date(T0 + seq * 1000 + 500) } : {}),
    ...(over.reason ? { reason: over.reason } : {}),
  };
}

function runtime(sandboxes: PodSandboxStatus[], containers: ContainerStatus[]): RuntimePodStatus {
  return { uid: 'uid-web', sandboxes, containers };
}

const starts = (a: PodActions) => a.containersToStart.map((s) => `${s.kind}:${s.container.name}#${s.attempt}`);
const kills = (a: PodActions) => a.containersToKill.map((k) => `${k.name}:${k.id}`);

describe('computePodActions: the sandbox', () => {
  it('creates a sandbox for a new pod and starts the first init container only', () => {
    const p = pod(
      {
        initContainers: [
          { name: 'i1', image: IMAGE },
          { name: 'i2', image: IMAGE },
        ],
      },
      ['a', 'b'],
    );
    const a = computePodActions(p, runtime([], []));
    expect(a).toMatchObject({ createSandbox: true, killPod: false, sandboxAttempt: 0, initFailed: false });
    expect(a.sandboxId).toBeUndefined();
    expect(starts(a)).toEqual(['init:i1#0']);
  });

  it('starts every app container of a new pod without init containers', () => {
    const a = computePodActions(pod({}, ['a', 'b']), runtime([], []));
    expect(starts(a)).toEqual(['regular:a#0', 'regular:b#0']);
  });

  it('kills the pod and re-creates the sandbox when it is not ready, restarting containers with attempt + 1', () => {
    const p = pod();
    const app = fakeContainerStatus(p.spec.containers[0]!, { restartCount: 2 });
    const a = computePodActions(p, runtime([fakeSandbox({ state: 'notready', attempt: 3 })], [app]));
    expect(a).toMatchObject({ createSandbox: true, killPod: true, sandboxAttempt: 4 });
    expect(starts(a)).toEqual(['regular:app#3']);
  });

  it('re-creates a sandbox without an IP, or with the wrong network mode', () => {
    expect(computePodActions(pod(), runtime([fakeSandbox({ ip: '' })], [])).createSandbox).toBe(true);
    expect(computePodActions(pod({ hostNetwork: true }), runtime([fakeSandbox()], [])).createSandbox).toBe(true);
    expect(computePodActions(pod(), runtime([fakeSandbox({ hostNetwork: true, ip: '' })], [])).createSandbox).toBe(true);
    const host = computePodActions(pod({ hostNetwork: true }), runtime([fakeSandbox({ hostNetwork: true, ip: '' })], []));
    expect(host).toMatchObject({ createSandbox: false, sandboxId: 'sb1' });
  });

  it('re-creates when two sandboxes are ready, and reports why', () => {
    const d = podSandboxChanged(pod(), [fakeSandbox({ id: 'sb2', attempt: 1 }), fakeSandbox()]);
    expect(d).toMatchObject({ createNew: true, attempt: 2, reason: 'several sandboxes of the pod are ready' });
    expect(podSandboxChanged(pod(), [fakeSandbox()])).toMatchObject({ createNew: false, attempt: 0, reason: '' });
  });

  it('re-runs init containers in a new sandbox, from the first', () => {
    const p = pod({ initContainers: [{ name: 'i1', image: IMAGE }] });
    const done = fakeContainerStatus(p.spec.initContainers![0]!, { state: 'exited', exitCode: 0 });
    const app = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 137 });
    const a = computePodActions(p, runtime([fakeSandbox({ state: 'notready' })], [app, done]));
    expect(starts(a)).toEqual(['init:i1#1']);
  });

  it('does not create a sandbox for a Never pod whose app containers all ran', () => {
    const p = pod({ restartPolicy: 'Never' }, ['a', 'b']);
    const ca = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 });
    const cb = fakeContainerStatus(p.spec.containers[1]!, { state: 'exited', exitCode: 1 });
    const a = computePodActions(p, runtime([fakeSandbox({ state: 'notready' })], [cb, ca]));
    expect(a).toMatchObject({ createSandbox: false, killPod: false, containersToStart: [], containersToKill: [] });
  });

  it('still stops what runs when a Never pod loses its sandbox after all containers ran', () => {
    const p = pod({ restartPolicy: 'Never' });
    const app = fakeContainerStatus(p.spec.containers[0]!, { state: 'running' });
    const a = computePodActions(p, runtime([fakeSandbox({ state: 'notready' })], [app]));
    expect(a).toMatchObject({ createSandbox: false, killPod: true, containersToStart: [] });
  });

  it('creates a sandbox for a Never pod with an app container that never ran, starting only what never ran', () => {
    const p = pod({ restartPolicy: 'Never' }, ['a', 'b']);
    const ca = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 });
    const a = computePodActions(p, runtime([fakeSandbox({ state: 'notready' })], [ca]));
    expect(a).toMatchObject({ createSandbox: true, killPod: true, sandboxAttempt: 1 });
    expect(starts(a)).toEqual(['regular:b#0']);
  });

  it('does not create a sandbox for an OnFailure pod whose containers all succeeded', () => {
    const p = pod({ restartPolicy: 'OnFailure' });
    const app = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 });
    expect(computePodActions(p, runtime([fakeSandbox({ state: 'notready' })], [app])).createSandbox).toBe(false);
  });
});

describe('computePodActions: init containers', () => {
  const p = pod(
    {
      initContainers: [
        { name: 'i1', image: IMAGE },
        { name: 'i2', image: IMAGE },
      ],
    },
    ['a', 'b'],
  );
  const [i1, i2] = p.spec.initContainers!;
  const sb = [fakeSandbox()];

  it('waits while an init container runs', () => {
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(i1!)]));
    expect(a).toMatchObject({ createSandbox: false, killPod: false, sandboxId: 'sb1', containersToStart: [], containersToKill: [] });
  });

  it('starts the next init container once the previous one succeeded', () => {
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(i1!, { state: 'exited', exitCode: 0 })]));
    expect(starts(a)).toEqual(['init:i2#0']);
  });

  it('starts the app containers once the last init container succeeded', () => {
    const a = computePodActions(
      p,
      runtime(sb, [fakeContainerStatus(i2!, { state: 'exited', exitCode: 0 }), fakeContainerStatus(i1!, { state: 'exited', exitCode: 0 })]),
    );
    expect(starts(a)).toEqual(['regular:a#0', 'regular:b#0']);
  });

  it('restarts a failed init container unless the pod says Never', () => {
    const failed = fakeContainerStatus(i1!, { state: 'exited', exitCode: 3, restartCount: 1 });
    expect(starts(computePodActions(p, runtime(sb, [failed])))).toEqual(['init:i1#2']);
    const oom = fakeContainerStatus(i1!, { state: 'exited', exitCode: 0, reason: 'OOMKilled' });
    expect(starts(computePodActions(pod({ ...p.spec, restartPolicy: 'OnFailure' }), runtime(sb, [oom])))).toEqual(['init:i1#1']);
  });

  it('marks initialization failed under Never, starting nothing and leaving the pod to the worker', () => {
    const never = pod({ ...p.spec, restartPolicy: 'Never' });
    const a = computePodActions(never, runtime(sb, [fakeContainerStatus(i1!, { state: 'exited', exitCode: 3 })]));
    expect(a).toMatchObject({ initFailed: true, killPod: false, createSandbox: false, containersToStart: [] });
  });

  it('ignores init runs from an older sandbox', () => {
    const old = fakeContainerStatus(i1!, { state: 'exited', exitCode: 0, sandbox: 'sb0' });
    const a = computePodActions(p, runtime([fakeSandbox({ attempt: 1 }), fakeSandbox({ id: 'sb0', state: 'notready' })], [old]));
    expect(starts(a)).toEqual(['init:i1#1']);
  });

  it('starts a new instance of an init container whose start failed (created, never running)', () => {
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(i1!, { state: 'created' })]));
    expect(starts(a)).toEqual(['init:i1#1']);
  });

  it('does not re-run init containers once app containers exist in the sandbox', () => {
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!), fakeContainerStatus(p.spec.containers[1]!)]));
    expect(a.containersToStart).toEqual([]);
  });
});

describe('computePodActions: sidecars (init containers with restartPolicy Always)', () => {
  const sidecar: Container = { name: 'proxy', image: IMAGE, restartPolicy: 'Always' };
  const p = pod({ restartPolicy: 'Never', initContainers: [sidecar, { name: 'setup', image: IMAGE }] });
  const sb = [fakeSandbox()];

  it('starts the next init container once the sidecar runs, but not before its startup probe passed', () => {
    const running = fakeContainerStatus(sidecar);
    expect(starts(computePodActions(p, runtime(sb, [running])))).toEqual(['init:setup#0']);
    expect(starts(computePodActions(p, runtime(sb, [running]), { startupPending: new Set(['proxy']) }))).toEqual([]);
  });

  it('restarts an exited sidecar whatever the pod restart policy', () => {
    const a = computePodActions(
      p,
      runtime(sb, [
        fakeContainerStatus(p.spec.containers[0]!),
        fakeContainerStatus(p.spec.initContainers![1]!, { state: 'exited', exitCode: 0 }),
        fakeContainerStatus(sidecar, { state: 'exited', exitCode: 1 }),
      ]),
    );
    expect(starts(a)).toEqual(['init:proxy#1']);
  });

  it('does not restart a sidecar once every app container is done for good', () => {
    const a = computePodActions(
      p,
      runtime(sb, [
        fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 }),
        fakeContainerStatus(sidecar, { state: 'exited', exitCode: 1 }),
      ]),
    );
    expect(a.containersToStart).toEqual([]);
  });

  it('stops a running sidecar once every app container is done for good, so the pod can finish', () => {
    const proxy = fakeContainerStatus(sidecar);
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 0 }), proxy]));
    expect(a.containersToKill).toEqual([{ id: proxy.id, name: 'proxy', message: 'Init container proxy is a sidecar and every app container has finished' }]);
    expect(a.containersToStart).toEqual([]);
    const stillRunning = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!), proxy]));
    expect(stillRunning.containersToKill).toEqual([]);
  });

  it('restarts a running sidecar whose definition changed', () => {
    const stale = fakeContainerStatus(sidecar, { hash: 'deadbeef' });
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!), stale]));
    expect(a.containersToKill).toEqual([{ id: stale.id, name: 'proxy', message: 'Init container proxy definition changed, will be restarted' }]);
    expect(starts(a)).toEqual(['init:proxy#1']);
  });
});

describe('computePodActions: app containers', () => {
  const sb = [fakeSandbox()];

  it.each([
    ['Always', 0, ['regular:app#1']],
    ['Always', 1, ['regular:app#1']],
    ['OnFailure', 0, []],
    ['OnFailure', 1, ['regular:app#1']],
    ['Never', 0, []],
    ['Never', 1, []],
  ] as const)('restartPolicy %s after exit %i starts %j', (policy, exitCode, expected) => {
    const p = pod({ restartPolicy: policy as RestartPolicy });
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode })]));
    expect(starts(a)).toEqual(expected);
    expect(a).toMatchObject({ killPod: false, createSandbox: false, sandboxId: 'sb1' });
  });

  it('keeps running containers whose spec is unchanged', () => {
    const p = pod({}, ['a', 'b']);
    const a = computePodActions(
      p,
      runtime(
        sb,
        p.spec.containers.map((c) => fakeContainerStatus(c)),
      ),
    );
    expect(a).toMatchObject({ containersToKill: [], containersToStart: [], killPod: false, createSandbox: false });
  });

  it('kills and restarts only the container whose definition changed, with attempt + 1', () => {
    const p = pod({}, ['a', 'b']);
    const a0 = fakeContainerStatus(p.spec.containers[0]!);
    const b0 = fakeContainerStatus({ ...p.spec.containers[1]!, image: 'old:1' }, { restartCount: 4 });
    const a = computePodActions(p, runtime(sb, [b0, a0]));
    expect(a.containersToKill).toEqual([{ id: b0.id, name: 'b', message: 'Container b definition changed, will be restarted' }]);
    expect(starts(a)).toEqual(['regular:b#5']);
  });

  it('restarts a definition change even under restartPolicy Never', () => {
    const p = pod({ restartPolicy: 'Never' });
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!, { hash: '00000000' })]));
    expect(starts(a)).toEqual(['regular:app#1']);
  });

  it('does not restart a container whose hash label is missing (made by something that did not record one)', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!);
    delete c.labels[LABEL_CONTAINER_HASH];
    expect(computePodActions(p, runtime(sb, [c])).containersToKill).toEqual([]);
  });

  it('kills running containers the spec does not name, and older instances still running', () => {
    const p = pod();
    const stray = fakeContainerStatus({ name: 'ghost', image: IMAGE });
    const older = fakeContainerStatus(p.spec.containers[0]!, { restartCount: 0 });
    const newer = fakeContainerStatus(p.spec.containers[0]!, { restartCount: 1 });
    const exitedGhost = fakeContainerStatus({ name: 'ghost2', image: IMAGE }, { state: 'exited' });
    const a = computePodActions(p, runtime(sb, [exitedGhost, newer, older, stray]));
    expect(kills(a).sort()).toEqual([`app:${older.id}`, `ghost:${stray.id}`].sort());
    expect(a.containersToKill.find((k) => k.name === 'ghost')?.message).toBe('Container ghost is not in the pod spec');
    expect(a.containersToStart).toEqual([]);
  });

  it('kills and restarts (by policy) an app container running outside the current sandbox', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { sandbox: 'sb0', restartCount: 2 });
    const a = computePodActions(p, runtime([fakeSandbox({ id: 'sb1' }), fakeSandbox({ id: 'sb0', state: 'notready' })], [c]));
    expect(kills(a)).toEqual([`app:${c.id}`]);
    expect(starts(a)).toEqual(['regular:app#3']);
  });

  it('starts a new instance of a container that was created but never started', () => {
    const p = pod({ restartPolicy: 'Never' });
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!, { state: 'created' })]));
    expect(starts(a)).toEqual(['regular:app#1']);
  });

  it('kills a container in an unknown state before starting a new one', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'unknown' });
    const a = computePodActions(p, runtime(sb, [c]));
    expect(a.containersToKill).toEqual([{ id: c.id, name: 'app', message: 'Container app is in "unknown" state, try killing it before restart' }]);
    expect(starts(a)).toEqual(['regular:app#1']);
  });

  it('kills an unhealthy container and restarts it by policy', () => {
    const p = pod({}, ['a', 'b']);
    const cs = p.spec.containers.map((c) => fakeContainerStatus(c));
    const a = computePodActions(p, runtime(sb, cs), { unhealthy: new Map([['a', 'liveness' as const]]) });
    expect(a.containersToKill).toEqual([{ id: cs[0]!.id, name: 'a', message: 'Container a failed liveness probe, will be restarted' }]);
    expect(starts(a)).toEqual(['regular:a#1']);

    const never = pod({ restartPolicy: 'Never' });
    const n = computePodActions(never, runtime(sb, [fakeContainerStatus(never.spec.containers[0]!)]), { unhealthy: new Set(['app']) });
    expect(n.containersToKill.map((k) => k.message)).toEqual(['Container app failed health probe']);
    expect(n.containersToStart).toEqual([]);
  });

  it('reads the attempt from the restart-count label, else from the CRI attempt', () => {
    const p = pod();
    const c = fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 1, restartCount: 7 });
    expect(starts(computePodActions(p, runtime(sb, [c])))).toEqual(['regular:app#8']);
    delete c.labels[LABEL_RESTART_COUNT];
    c.metadata.attempt = 2;
    expect(starts(computePodActions(p, runtime(sb, [c])))).toEqual(['regular:app#3']);
  });

  it('restarts nothing of a pod being deleted', () => {
    const p = pod();
    p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const a = computePodActions(p, runtime(sb, [fakeContainerStatus(p.spec.containers[0]!, { state: 'exited', exitCode: 1 })]));
    expect(a.containersToStart).toEqual([]);
  });
});

describe('shouldContainerBeRestarted', () => {
  const podWith = (restartPolicy?: RestartPolicy, deleted = false): Pod => ({
    metadata: { name: 'p', uid: 'u', ...(deleted ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...(restartPolicy ? { restartPolicy } : {}) },
  });
  const c = { name: 'c', image: 'busybox' };

  it.each([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 2, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ] as const)('restartPolicy %s, exit %i → %s', (policy, code, expected) => {
    expect(shouldContainerBeRestarted(c, podWith(policy), code)).toBe(expected);
  });

  it('defaults to Always, starts what never ran, and restarts nothing of a deleted pod', () => {
    expect(shouldContainerBeRestarted(c, podWith(), 0)).toBe(true);
    expect(shouldContainerBeRestarted(c, podWith('Never'), undefined)).toBe(true);
    expect(shouldContainerBeRestarted(c, podWith('Always', true), 1)).toBe(false);
    expect(shouldContainerBeRestarted(c, podWith('Always', true), undefined)).toBe(false);
  });

  it('restarts a sidecar whatever the pod policy', () => {
    expect(shouldContainerBeRestarted({ ...c, restartPolicy: 'Always' }, podWith('Never'), 0)).toBe(true);
  });
});
