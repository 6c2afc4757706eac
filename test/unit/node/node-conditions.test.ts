import { describe, expect, it } from 'vitest';
import { nodeConditions, readyCondition } from '../../../agent/node/node-conditions.js';
import type { NodeCondition } from '../../../agent/node/node-types.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const T1 = new Date('2026-01-01T00:00:10.400Z');
const GiB = 1024 ** 3;

function byType(conditions: NodeCondition[], type: string): NodeCondition {
  const c = conditions.find((x) => x.type === type);
  if (!c) throw new Error(`no ${type} condition`);
  return c;
}

describe('nodeConditions', () => {
  it('reports a healthy node as kubelet does', () => {
    const c = nodeConditions(
      { memoryAvailableBytes: 4 * GiB, rootFsAvailableBytes: 50 * GiB, rootFsTotalBytes: 100 * GiB, processCount: 300, pidMax: 32768 },
      undefined,
      T0,
    );
    expect(c.map((x) => x.type)).toEqual(['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready']);
    expect(byType(c, 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      message: 'kubelet is posting ready status',
      lastHeartbeatTime: '2026-01-01T00:00:00Z',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    expect(byType(c, 'MemoryPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasSufficientMemory' });
    expect(byType(c, 'DiskPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasNoDiskPressure' });
    expect(byType(c, 'PIDPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasSufficientPID' });
  });

  it('turns Ready False when the runtime is down', () => {
    const ready = byType(nodeConditions({ runtimeError: 'connect ENOENT /var/run/docker.sock' }, undefined, T0), 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'KubeletNotReady', message: 'container runtime is down: connect ENOENT /var/run/docker.sock' });
  });

  it('names every failed health check, aggregated as Kubernetes prints errors', () => {
    const ready = byType(
      nodeConditions({ runtimeError: 'timeout', failedChecks: [{ name: 'PLEG', error: 'pleg was last seen active 3m0s ago' }] }, undefined, T0),
      'Ready',
    );
    expect(ready.message).toBe('[container runtime is down: timeout, PLEG is not healthy: pleg was last seen active 3m0s ago]');
    const one = byType(nodeConditions({ failedChecks: [{ name: 'PLEG', error: 'pleg has yet to be successful' }] }, undefined, T0), 'Ready');
    expect(one.message).toBe('PLEG is not healthy: pleg has yet to be successful');
  });

  it('reports memory pressure below the 100Mi eviction threshold', () => {
    const c = nodeConditions({ memoryAvailableBytes: 99 * 1024 * 1024 }, undefined, T0);
    expect(byType(c, 'MemoryPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasInsufficientMemory' });
    const custom = nodeConditions({ memoryAvailableBytes: 200 * 1024 * 1024, memoryEvictionThresholdBytes: 300 * 1024 * 1024 }, undefined, T0);
    expect(byType(custom, 'MemoryPressure').status).toBe('True');
  });

  it('reports disk pressure under 10% free on the root dir filesystem', () => {
    expect(byType(nodeConditions({ rootFsAvailableBytes: 9 * GiB, rootFsTotalBytes: 100 * GiB }, undefined, T0), 'DiskPressure')).toMatchObject({
      status: 'True',
      reason: 'KubeletHasDiskPressure',
    });
    expect(byType(nodeConditions({ rootFsAvailableBytes: 10 * GiB, rootFsTotalBytes: 100 * GiB }, undefined, T0), 'DiskPressure').status).toBe('False');
  });

  it('reports PID pressure above 90% of pid_max', () => {
    expect(byType(nodeConditions({ processCount: 29_500, pidMax: 32_768 }, undefined, T0), 'PIDPressure')).toMatchObject({
      status: 'True',
      reason: 'KubeletHasInsufficientPID',
    });
    expect(byType(nodeConditions({ processCount: 29_000, pidMax: 32_768 }, undefined, T0), 'PIDPressure').status).toBe('False');
  });

  it('refreshes heartbeats and keeps transition times while the status holds', () => {
    const first = nodeConditions({}, undefined, T0);
    const second = nodeConditions({}, first, T1);
    expect(byType(second, 'Ready').lastHeartbeatTime).toBe('2026-01-01T00:00:10Z');
    expect(byType(second, 'Ready').lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });

  it('moves the transition time when the status flips', () => {
    const first = nodeConditions({}, undefined, T0);
    const down = nodeConditions({ runtimeError: 'gone' }, first, T1);
    expect(byType(down, 'Ready').lastTransitionTime).toBe('2026-01-01T00:00:10Z');
    expect(byType(down, 'MemoryPressure').lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(readyCondition(down)?.status).toBe('False');
  });
});
