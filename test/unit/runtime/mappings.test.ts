import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { eventFilters, runtimeEventFromDocker } from '../../../agent/runtime/docker/event-mapping.js';
import { resolvConfContent } from '../../../agent/runtime/docker/resolv-conf.js';
import { normalizeSignal } from '../../../agent/runtime/docker/signals.js';
import { containerStatsFromDocker, workingSetBytes } from '../../../agent/runtime/docker/stats-mapping.js';
import { mergeAnnotationsIntoLabels, splitAnnotationLabels } from '../../../agent/runtime/docker/docker-labels.js';
import { logQuery } from '../../../agent/runtime/docker/log-stream.js';

describe('runtimeEventFromDocker', () => {
  const base = {
    Type: 'container',
    Action: 'die',
    time: 1_715_116_176,
    timeNano: 1_715_116_176_123_456_789,
    Actor: {
      ID: 'abc',
      Attributes: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.pod.uid': 'u1', image: 'busybox', name: 'k8s_x', exitCode: '1' },
    },
  };

  it('maps a container event with its labels and time', () => {
    const e = runtimeEventFromDocker(base);
    expect(e).toEqual({
      kind: 'container',
      id: 'abc',
      action: 'die',
      labels: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.pod.uid': 'u1' },
      time: new Date(1_715_116_176_123),
    });
  });

  it('tells sandboxes from containers by the type label', () => {
    const e = runtimeEventFromDocker({ ...base, Action: 'start', Actor: { ID: 's', Attributes: { 'io.kubernetes.docker.type': 'podsandbox' } } });
    expect(e?.kind).toBe('sandbox');
  });

  it('ignores non-container events and junk', () => {
    expect(runtimeEventFromDocker({ ...base, Type: 'network' })).toBeUndefined();
    expect(runtimeEventFromDocker({ Type: 'container', Action: 'start' })).toBeUndefined();
    expect(runtimeEventFromDocker(null)).toBeUndefined();
  });

  it('filters the event stream to managed containers and lifecycle actions', () => {
    const f = eventFilters();
    expect(f.label).toEqual(['nodelet.io/managed=true']);
    expect(f.type).toEqual(['container']);
    expect(f.event).toContain('start');
    expect(f.event).toContain('die');
    expect(f.event).not.toContain('exec_start');
  });
});

describe('stats mapping', () => {
  it('computes the working set as usage minus inactive file pages (cgroup v1 and v2)', () => {
    expect(workingSetBytes({ usage: 1000, stats: { total_inactive_file: 300 } })).toBe(700);
    expect(workingSetBytes({ usage: 1000, stats: { inactive_file: 100 } })).toBe(900);
    expect(workingSetBytes({ usage: 100, stats: { total_inactive_file: 300 } })).toBe(0);
    expect(workingSetBytes(undefined)).toBe(0);
  });

  it('maps one-shot stats, using now for the zero time of a stopped container', () => {
    const now = new Date('2024-01-01T00:00:00Z');
    const raw = {
      read: '2024-05-07T21:09:36.5Z',
      cpu_stats: { cpu_usage: { total_usage: 123_456_789 } },
      memory_stats: { usage: 10_000, stats: { total_inactive_file: 4_000 } },
    } as unknown as Docker.ContainerStats;
    expect(containerStatsFromDocker(raw, now)).toEqual({
      timestamp: new Date('2024-05-07T21:09:36.500Z'),
      cpuUsageCoreNanoSeconds: 123_456_789,
      memoryWorkingSetBytes: 6_000,
      memoryUsageBytes: 10_000,
    });
    const stopped = { read: '0001-01-01T00:00:00Z', cpu_stats: {}, memory_stats: {} } as unknown as Docker.ContainerStats;
    expect(containerStatsFromDocker(stopped, now)).toEqual({ timestamp: now, cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0, memoryUsageBytes: 0 });
  });
});

describe('resolvConfContent', () => {
  it('writes nameserver lines, one search line and one options line', () => {
    expect(
      resolvConfContent({ servers: ['10.96.0.10', '8.8.8.8'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'edns0'] }),
    ).toBe('nameserver 10.96.0.10\nnameserver 8.8.8.8\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5 edns0\n');
    expect(resolvConfContent({ servers: ['1.1.1.1'], searches: [], options: [] })).toBe('nameserver 1.1.1.1\n');
    expect(resolvConfContent({ servers: [], searches: [], options: [] })).toBe('');
  });
});

describe('normalizeSignal', () => {
  it.each([
    ['SIGTERM', 'SIGTERM'],
    ['term', 'SIGTERM'],
    ['15', 'SIGTERM'],
    ['9', 'SIGKILL'],
    [' SIGQUIT ', 'SIGQUIT'],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j', (input, expected) => {
    expect(normalizeSignal(input)).toBe(expected);
  });
});

describe('annotation labels', () => {
  it('round-trips annotations through Docker labels without touching real labels', () => {
    const merged = mergeAnnotationsIntoLabels({ app: 'web' }, { 'kubernetes.io/config.hash': 'abc', app: 'annotation-app' });
    expect(merged).toEqual({ app: 'web', 'nodelet.io/annotation:kubernetes.io/config.hash': 'abc', 'nodelet.io/annotation:app': 'annotation-app' });
    expect(splitAnnotationLabels(merged)).toEqual({ labels: { app: 'web' }, annotations: { 'kubernetes.io/config.hash': 'abc', app: 'annotation-app' } });
    expect(splitAnnotationLabels(null)).toEqual({ labels: {}, annotations: {} });
  });
});

describe('logQuery', () => {
  it('asks for both streams, all lines by default, and turns sinceSeconds into a Unix time', () => {
    expect(logQuery({}, 1_700_000_000_000)).toEqual({ stdout: true, stderr: true, follow: false, timestamps: false, tail: 'all' });
    expect(logQuery({ follow: true, timestamps: true, tailLines: 10, sinceSeconds: 60 }, 1_700_000_000_000)).toEqual({
      stdout: true,
      stderr: true,
      follow: true,
      timestamps: true,
      tail: 10,
      since: 1_699_999_940,
    });
    expect(logQuery({ tailLines: 0 }, 0).tail).toBe(0);
  });
});
