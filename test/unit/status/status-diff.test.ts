import { describe, expect, it } from 'vitest';
import type { PodStatus } from '../../../agent/api/types.js';
import { mergeWithApiStatus, normalizePodStatus, ownedStatus, statusesEqual, statusPatch } from '../../../agent/status/status-diff.js';
import { canBeDeleted, terminalStatus } from '../../../agent/status/terminal-status.js';
import { applyPatch } from '../../support/apiserver/patch.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';

function running(): PodStatus {
  return {
    phase: 'Running',
    conditions: [
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: T1 },
      { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: T1 },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
    ],
    hostIP: '10.0.0.1',
    hostIPs: [{ ip: '10.0.0.1' }],
    podIP: '10.88.0.5',
    podIPs: [{ ip: '10.88.0.5' }],
    startTime: T0,
    containerStatuses: [
      {
        name: 'app',
        ready: true,
        restartCount: 0,
        image: 'busybox:latest',
        imageID: 'docker-pullable://busybox@sha256:1',
        containerID: 'docker://abc',
        started: true,
        state: { running: { startedAt: T1 } },
        lastState: {},
      },
    ],
    qosClass: 'BestEffort',
  };
}

function pending(): PodStatus {
  return {
    phase: 'Pending',
    conditions: [
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: T0 },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T0 },
      { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T0 },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
    ],
    hostIP: '10.0.0.1',
    hostIPs: [{ ip: '10.0.0.1' }],
    startTime: T0,
    containerStatuses: [
      {
        name: 'app',
        ready: false,
        restartCount: 0,
        image: 'busybox:latest',
        imageID: '',
        started: false,
        state: { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
      },
    ],
    qosClass: 'BestEffort',
  };
}

/** The server's status after applying the patch, as the test apiserver's strategic merge does it. */
function applied(server: PodStatus | undefined, patch: ReturnType<typeof statusPatch>): PodStatus {
  const pod = { metadata: { name: 'p', uid: 'u1' }, spec: { containers: [] }, status: server ?? {} };
  return (applyPatch('Pod', pod, 'strategic', patch) as { status: PodStatus }).status;
}

describe('normalizePodStatus', () => {
  it('cuts times to whole seconds, drops nulls and sorts container statuses by name', () => {
    const s = normalizePodStatus({
      startTime: '2026-01-01T00:00:00.123456Z',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:01.9Z' }],
      containerStatuses: [
        { name: 'b', ready: true, restartCount: 0, image: '', imageID: '', state: {}, lastState: {} },
        { name: 'a', ready: true, restartCount: 0, image: '', imageID: '', state: {}, lastState: {} },
      ],
    });
    expect(s.startTime).toBe('2026-01-01T00:00:00Z');
    expect(s.conditions).toEqual([{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:01Z' }]);
    expect(s.containerStatuses?.map((c) => c.name)).toEqual(['a', 'b']);
  });
});

describe('statusesEqual', () => {
  it('ignores condition probe and transition times, as kubelet does', () => {
    const a = running();
    const b = running();
    b.conditions![1]!.lastTransitionTime = '2030-01-01T00:00:00Z';
    b.conditions![1]!.lastProbeTime = '2030-01-01T00:00:00Z';
    expect(statusesEqual(a, b)).toBe(true);
  });

  it('sees a condition reason, a container state or the phase change', () => {
    const b = running();
    b.conditions![1]!.reason = 'Other';
    expect(statusesEqual(running(), b)).toBe(false);
    expect(statusesEqual(running(), pending())).toBe(false);
  });

  it('ignores conditions and fields other writers own', () => {
    const b = running();
    b.conditions!.push({ type: 'example.com/gate', status: 'False' });
    (b as Record<string, unknown>).nominatedNodeName = 'x';
    expect(statusesEqual(running(), b)).toBe(true);
  });
});

describe('statusPatch', () => {
  it('carries the UID precondition and is undefined when the server already has the status', () => {
    expect(statusPatch('u1', running(), running())).toBeUndefined();
    const patch = statusPatch('u1', undefined, running());
    expect(patch?.metadata).toEqual({ uid: 'u1' });
    expect(ownedStatus(applied(undefined, patch))).toEqual(ownedStatus(running()));
  });

  it('turns Pending into Running exactly: stale reasons, messages and the waiting state are cleared', () => {
    const patch = statusPatch('u1', pending(), running());
    const result = applied(pending(), patch);
    expect(ownedStatus(result)).toEqual(ownedStatus(running()));
    const ready = result.conditions?.find((c) => c.type === 'Ready');
    expect(ready).not.toHaveProperty('reason');
    expect(result.containerStatuses?.[0]?.state).toEqual({ running: { startedAt: T1 } });
    // Only what changed is in the patch, with the element order of each keyed list.
    expect(patch?.status.phase).toBe('Running');
    expect(patch?.status).not.toHaveProperty('hostIP');
    expect(patch?.status['$setElementOrder/conditions']).toEqual([
      { type: 'Initialized' },
      { type: 'Ready' },
      { type: 'ContainersReady' },
      { type: 'PodScheduled' },
    ]);
  });

  it("deletes a kubelet condition we no longer report, and keeps other writers' conditions", () => {
    const server = running();
    server.conditions!.push({ type: 'PodReadyToStartContainers', status: 'True' });
    server.conditions!.push({ type: 'example.com/gate', status: 'True' });
    const desired = running();
    const patch = statusPatch('u1', server, mergeWithApiStatus(server, desired));
    expect(patch?.status.conditions).toEqual([{ type: 'PodReadyToStartContainers', $patch: 'delete' }]);
    const result = applied(server, patch);
    expect(result.conditions?.map((c) => c.type)).toEqual(['Initialized', 'Ready', 'ContainersReady', 'PodScheduled', 'example.com/gate']);
  });

  it('never clears the start time or the QoS class the server has', () => {
    const desired = running();
    delete desired.qosClass;
    delete desired.startTime;
    expect(statusPatch('u1', running(), desired)).toBeUndefined();
  });
});

describe('mergeWithApiStatus', () => {
  it("keeps the server's start time", () => {
    const desired = running();
    desired.startTime = '2027-01-01T00:00:00Z';
    expect(mergeWithApiStatus(running(), desired).startTime).toBe(T0);
  });

  it("never moves the server's terminal phase back", () => {
    const server: PodStatus = { ...running(), phase: 'Failed', reason: 'DeadlineExceeded', message: 'too long' };
    const merged = mergeWithApiStatus(server, running());
    expect(merged).toMatchObject({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'too long' });
  });
});

describe('terminalStatus and canBeDeleted', () => {
  const pod = { metadata: { name: 'p', uid: 'u1' }, spec: { containers: [{ name: 'app' }] } };

  it('fails a pod that did not end on its own and marks running containers as unknown exits', () => {
    const s = terminalStatus(pod, running());
    expect(s.phase).toBe('Failed');
    expect(s.containerStatuses?.[0]?.state).toEqual({
      terminated: { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' },
    });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('keeps a terminal phase and terminated containers as they are', () => {
    const done: PodStatus = { ...running(), phase: 'Succeeded' };
    done.containerStatuses = [{ ...done.containerStatuses![0]!, state: { terminated: { exitCode: 0, reason: 'Completed' } } }];
    const s = terminalStatus(pod, done);
    expect(s.phase).toBe('Succeeded');
    expect(s.containerStatuses?.[0]?.state.terminated?.exitCode).toBe(0);
  });

  it('allows the final delete only for a finished, terminal pod with a deletion pending, never for a mirror', () => {
    const api = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: T1 }, status: { phase: 'Failed' as const } };
    expect(canBeDeleted(api, true)).toBe(true);
    expect(canBeDeleted(api, false)).toBe(false);
    expect(canBeDeleted({ ...api, status: { phase: 'Running' } }, true)).toBe(false);
    expect(canBeDeleted({ ...api, metadata: { ...pod.metadata } }, true)).toBe(false);
    expect(canBeDeleted({ ...api, metadata: { ...api.metadata, annotations: { 'kubernetes.io/config.mirror': 'h' } } }, true)).toBe(false);
  });
});
