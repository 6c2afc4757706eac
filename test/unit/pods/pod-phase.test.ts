import { describe, expect, it } from 'vitest';
import type { ContainerState, ContainerStatus, Pod, PodPhase, PodSpec, RestartPolicy } from '../../../agent/api/types.js';
import { computePodPhase } from '../../../agent/pods/pod-phase.js';

function pod(spec: Partial<PodSpec> = {}, names: string[] = ['a']): Pod {
  return { metadata: { name: 'p', uid: 'u' }, spec: { restartPolicy: 'Always', containers: names.map((name) => ({ name, image: 'img' })), ...spec } };
}

const running: ContainerState = { running: { startedAt: '2026-01-01T00:00:00Z' } };
const waiting: ContainerState = { waiting: { reason: 'ContainerCreating' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode } });

function st(name: string, state: ContainerState, extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, state, lastState: {}, ready: false, restartCount: 0, image: 'img', imageID: '', started: state.running !== undefined, ...extra };
}
const crashLooping = (name: string, exitCode: number) => st(name, { waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode } } });

describe('computePodPhase: app containers (kubelet getPhase)', () => {
  const cases: Array<[string, RestartPolicy, ContainerStatus[], PodPhase]> = [
    ['one waiting → Pending', 'Always', [st('a', running), st('b', waiting)], 'Pending'],
    ['all running → Running', 'Never', [st('a', running), st('b', running)], 'Running'],
    ['running and succeeded → Running', 'Never', [st('a', running), st('b', exited(0))], 'Running'],
    ['all stopped under Always → Running (being restarted)', 'Always', [st('a', exited(0)), st('b', exited(1))], 'Running'],
    ['all succeeded under Always → Running', 'Always', [st('a', exited(0)), st('b', exited(0))], 'Running'],
    ['all succeeded under OnFailure → Succeeded', 'OnFailure', [st('a', exited(0)), st('b', exited(0))], 'Succeeded'],
    ['one failed under OnFailure → Running (being restarted)', 'OnFailure', [st('a', exited(0)), st('b', exited(2))], 'Running'],
    ['all succeeded under Never → Succeeded', 'Never', [st('a', exited(0)), st('b', exited(0))], 'Succeeded'],
    ['one failed under Never → Failed', 'Never', [st('a', exited(0)), st('b', exited(2))], 'Failed'],
    ['crash loop (waiting with a last termination) counts as stopped → Running', 'Always', [crashLooping('a', 1), st('b', running)], 'Running'],
    ['crash loop alone under OnFailure → Running', 'OnFailure', [crashLooping('a', 1), st('b', exited(0))], 'Running'],
    ['a container with no status → Pending', 'Always', [st('a', running)], 'Pending'],
  ];
  it.each(cases)('%s', (_what, restartPolicy, statuses, phase) => {
    expect(computePodPhase(pod({ restartPolicy }, ['a', 'b']), [], statuses)).toBe(phase);
  });
});

describe('computePodPhase: init containers', () => {
  const withInit = (restartPolicy: RestartPolicy) =>
    pod({
      restartPolicy,
      initContainers: [
        { name: 'i1', image: 'img' },
        { name: 'i2', image: 'img' },
      ],
    });
  const appWaiting = [st('a', { waiting: { reason: 'PodInitializing' } })];

  it('fails the pod when an init container failed under Never', () => {
    expect(computePodPhase(withInit('Never'), [st('i1', exited(3)), st('i2', waiting)], appWaiting)).toBe('Failed');
    expect(computePodPhase(withInit('Never'), [crashLooping('i1', 3), st('i2', waiting)], appWaiting)).toBe('Failed');
  });

  it('stays Pending while an init container fails under OnFailure or Always (it is retried)', () => {
    expect(computePodPhase(withInit('OnFailure'), [crashLooping('i1', 1), st('i2', waiting)], appWaiting)).toBe('Pending');
    expect(computePodPhase(withInit('Always'), [st('i1', exited(1)), st('i2', waiting)], appWaiting)).toBe('Pending');
  });

  it('is Pending while an init container runs or has not run', () => {
    expect(computePodPhase(withInit('Always'), [st('i1', running), st('i2', waiting)], appWaiting)).toBe('Pending');
    expect(computePodPhase(withInit('Always'), [st('i1', exited(0)), st('i2', waiting)], appWaiting)).toBe('Pending');
    expect(computePodPhase(withInit('Always'), [st('i1', exited(0))], appWaiting)).toBe('Pending');
  });

  it('follows the app containers once every init container succeeded', () => {
    const done = [st('i1', exited(0)), st('i2', exited(0))];
    expect(computePodPhase(withInit('Always'), done, [st('a', running)])).toBe('Running');
    expect(computePodPhase(withInit('Never'), done, [st('a', exited(0))])).toBe('Succeeded');
  });
});

describe('computePodPhase: sidecars', () => {
  const withSidecar = (restartPolicy: RestartPolicy) => pod({ restartPolicy, initContainers: [{ name: 'proxy', image: 'img', restartPolicy: 'Always' }] });

  it('counts a sidecar as initialized once started, not merely running', () => {
    const app = [st('a', { waiting: { reason: 'PodInitializing' } })];
    expect(computePodPhase(withSidecar('Always'), [st('proxy', running, { started: false })], app)).toBe('Pending');
    expect(computePodPhase(withSidecar('Always'), [st('proxy', running, { started: true })], [st('a', running)])).toBe('Running');
  });

  it('does not fall back to Pending when a sidecar restarts after the pod initialized', () => {
    const restarting = [st('proxy', running, { started: false })];
    expect(computePodPhase(withSidecar('Always'), restarting, [st('a', running)], true)).toBe('Running');
    expect(computePodPhase(withSidecar('Always'), restarting, [st('a', running)], false)).toBe('Pending');
  });

  it('ignores a stopped sidecar once the app containers finished', () => {
    expect(computePodPhase(withSidecar('Never'), [st('proxy', exited(137))], [st('a', exited(0))])).toBe('Succeeded');
    expect(computePodPhase(withSidecar('Never'), [st('proxy', running, { started: true })], [st('a', exited(0))])).toBe('Running');
  });
});
