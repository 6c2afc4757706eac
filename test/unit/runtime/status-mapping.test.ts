import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  containerState,
  containerStatusFromInspect,
  containerSummaryFromList,
  parseDockerTime,
  sandboxStatusFromInspect,
  sandboxSummaryFromList,
} from '../../../agent/runtime/docker/status-mapping.js';

const ZERO = '0001-01-01T00:00:00Z';
const SANDBOX = 's'.repeat(64);

function inspect(overrides: Record<string, unknown> = {}, state: Record<string, unknown> = {}): Docker.ContainerInspectInfo {
  return {
    Id: 'c'.repeat(64),
    Created: '2024-05-07T21:09:36.123456789Z',
    Name: '/k8s_app_web_default_uid-1_3',
    Image: 'sha256:feed',
    LogPath: '/var/lib/docker/containers/c/c-json.log',
    ResolvConfPath: '/var/lib/docker/containers/c/resolv.conf',
    HostsPath: '/var/lib/docker/containers/c/hosts',
    State: {
      Status: 'running',
      Running: true,
      OOMKilled: false,
      Pid: 4242,
      ExitCode: 0,
      Error: '',
      StartedAt: '2024-05-07T21:09:37Z',
      FinishedAt: ZERO,
      ...state,
    },
    Config: {
      Image: 'nodelet/busybox:0.1.0',
      Labels: {
        'io.kubernetes.container.name': 'app',
        'io.kubernetes.pod.name': 'web',
        'io.kubernetes.pod.namespace': 'default',
        'io.kubernetes.pod.uid': 'uid-1',
        'io.kubernetes.sandbox.id': SANDBOX,
        'io.kubernetes.docker.type': 'container',
        'nodelet.io/annotation:note': 'kept',
      },
    },
    HostConfig: { NetworkMode: `container:${SANDBOX}` },
    Mounts: [
      { Type: 'bind', Source: '/h/data', Destination: '/data', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'bind', Source: '/h/hosts', Destination: '/etc/hosts', Mode: 'ro', RW: false, Propagation: 'rslave' },
      { Type: 'volume', Name: 'v', Source: '/var/lib/docker/volumes/v', Destination: '/anon', Mode: '', RW: true, Propagation: '' },
    ],
    NetworkSettings: { Networks: {} },
    ...overrides,
  } as unknown as Docker.ContainerInspectInfo;
}

describe('parseDockerTime', () => {
  it('reads RFC 3339 with nanoseconds and treats Go zero time as unset', () => {
    expect(parseDockerTime('2024-05-07T21:09:36.123456789Z')?.toISOString()).toBe('2024-05-07T21:09:36.123Z');
    expect(parseDockerTime(ZERO)).toBeUndefined();
    expect(parseDockerTime('')).toBeUndefined();
    expect(parseDockerTime(undefined)).toBeUndefined();
    expect(parseDockerTime('garbage')).toBeUndefined();
  });
});

describe('containerState', () => {
  it.each([
    ['created', 'created'],
    ['running', 'running'],
    ['paused', 'running'],
    ['restarting', 'running'],
    ['exited', 'exited'],
    ['dead', 'exited'],
    ['removing', 'exited'],
    ['weird', 'unknown'],
    [undefined, 'unknown'],
  ] as const)('maps %s to %s', (docker, cri) => {
    expect(containerState(docker)).toBe(cri);
  });
});

describe('containerStatusFromInspect', () => {
  it('maps a running container, recovering metadata from labels and the attempt from the name', () => {
    const s = containerStatusFromInspect(inspect());
    expect(s).toMatchObject({
      id: 'c'.repeat(64),
      podSandboxId: SANDBOX,
      metadata: { name: 'app', attempt: 3 },
      image: 'nodelet/busybox:0.1.0',
      imageRef: 'sha256:feed',
      state: 'running',
      pid: 4242,
      logPath: '/var/lib/docker/containers/c/c-json.log',
      annotations: { note: 'kept' },
    });
    expect(s.createdAt.toISOString()).toBe('2024-05-07T21:09:36.123Z');
    expect(s.startedAt?.toISOString()).toBe('2024-05-07T21:09:37.000Z');
    expect(s.finishedAt).toBeUndefined();
    expect(s.exitCode).toBeUndefined();
    expect(s.reason).toBeUndefined();
    expect(s.labels).not.toHaveProperty('nodelet.io/annotation:note');
    expect(s.mounts).toEqual([
      { hostPath: '/h/data', containerPath: '/data', readonly: false },
      { hostPath: '/h/hosts', containerPath: '/etc/hosts', readonly: true, propagation: 'rslave' },
    ]);
  });

  it('reports Completed for exit 0 and Error otherwise', () => {
    const ok = containerStatusFromInspect(inspect({}, { Status: 'exited', Running: false, Pid: 0, ExitCode: 0, FinishedAt: '2024-05-07T21:10:00Z' }));
    expect(ok).toMatchObject({ state: 'exited', exitCode: 0, reason: 'Completed' });
    expect(ok.finishedAt?.toISOString()).toBe('2024-05-07T21:10:00.000Z');
    expect(ok.pid).toBeUndefined();
    const failed = containerStatusFromInspect(inspect({}, { Status: 'exited', Running: false, ExitCode: 2 }));
    expect(failed).toMatchObject({ exitCode: 2, reason: 'Error' });
  });

  it('reports OOMKilled when the kernel killed it for memory', () => {
    const s = containerStatusFromInspect(inspect({}, { Status: 'exited', Running: false, ExitCode: 137, OOMKilled: true }));
    expect(s).toMatchObject({ state: 'exited', exitCode: 137, reason: 'OOMKilled' });
  });

  it('keeps a start failure as the message of a created container', () => {
    const s = containerStatusFromInspect(
      inspect(
        {},
        {
          Status: 'created',
          Running: false,
          Pid: 0,
          StartedAt: ZERO,
          ExitCode: 127,
          Error: 'exec: "nope": executable file not found in $PATH',
        },
      ),
    );
    expect(s.state).toBe('created');
    expect(s.startedAt).toBeUndefined();
    expect(s.exitCode).toBeUndefined();
    expect(s.message).toContain('executable file not found');
  });

  it('falls back to the name when labels are missing', () => {
    const s = containerStatusFromInspect(inspect({ Config: { Image: 'x', Labels: null } }));
    expect(s.metadata).toEqual({ name: 'app', attempt: 3 });
    expect(s.labels).toEqual({});
    expect(s.podSandboxId).toBe('');
  });
});

describe('sandboxStatusFromInspect', () => {
  const sandbox = (overrides: Record<string, unknown> = {}, state: Record<string, unknown> = {}) =>
    inspect(
      {
        Name: '/k8s_POD_web_default_uid-1_1',
        Config: {
          Image: 'nodelet/pause:0.1.0',
          Labels: {
            'io.kubernetes.pod.name': 'web',
            'io.kubernetes.pod.namespace': 'default',
            'io.kubernetes.pod.uid': 'uid-1',
            'io.kubernetes.docker.type': 'podsandbox',
          },
        },
        HostConfig: { NetworkMode: 'nodelet-node1' },
        NetworkSettings: { Networks: { bridge: { IPAddress: '' }, 'nodelet-node1': { IPAddress: '10.88.0.5' } } },
        ...overrides,
      },
      state,
    );

  it('maps a running sandbox with its pod IP and network file paths', () => {
    expect(sandboxStatusFromInspect(sandbox())).toMatchObject({
      metadata: { name: 'web', namespace: 'default', uid: 'uid-1', attempt: 1 },
      state: 'ready',
      ip: '10.88.0.5',
      hostNetwork: false,
      resolvConfPath: '/var/lib/docker/containers/c/resolv.conf',
      hostsPath: '/var/lib/docker/containers/c/hosts',
    });
  });

  it('has no IP on the host network and is notready once stopped', () => {
    const s = sandboxStatusFromInspect(
      sandbox({ HostConfig: { NetworkMode: 'host' }, NetworkSettings: { Networks: { host: { IPAddress: '' } } } }, { Status: 'exited', Running: false }),
    );
    expect(s).toMatchObject({ ip: '', hostNetwork: true, state: 'notready' });
  });
});

describe('list summaries', () => {
  const row = (labels: Record<string, string>, name: string, state: string): Docker.ContainerInfo => ({
    Id: 'd'.repeat(64),
    Names: [name],
    Image: 'sha256:img',
    ImageID: 'sha256:img',
    Command: '',
    Created: 1_715_116_176,
    Ports: [],
    Labels: labels,
    State: state,
    Status: '',
    HostConfig: { NetworkMode: 'x' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  });

  it('maps a container row', () => {
    const s = containerSummaryFromList(
      row({ 'io.kubernetes.sandbox.id': SANDBOX, 'io.kubernetes.container.name': 'app' }, '/k8s_app_web_default_uid-1_4', 'exited'),
    );
    expect(s).toMatchObject({ podSandboxId: SANDBOX, metadata: { name: 'app', attempt: 4 }, state: 'exited', imageRef: 'sha256:img' });
    expect(s.createdAt.getTime()).toBe(1_715_116_176_000);
  });

  it('maps a sandbox row', () => {
    const s = sandboxSummaryFromList(row({ 'io.kubernetes.pod.uid': 'uid-1' }, '/k8s_POD_web_default_uid-1_2', 'running'));
    expect(s).toMatchObject({ metadata: { name: 'web', namespace: 'default', uid: 'uid-1', attempt: 2 }, state: 'ready' });
    expect(sandboxSummaryFromList(row({}, '/k8s_POD_web_default_uid-1_2', 'exited')).state).toBe('notready');
  });
});
