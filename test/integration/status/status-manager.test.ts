// The status manager against the in-memory apiserver on loopback, with the pod
// informer as its cache, as the agent wires it: strategic status patches with the
// UID precondition, nothing re-sent when unchanged, retries after a 500 and across
// an outage, the final DELETE after graceful termination.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod, PodStatus } from '../../../agent/api/types.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { ApiserverPodSource } from '../../../agent/sources/apiserver-pod-source.js';
import { StatusManager } from '../../../agent/status/status-manager.js';
import { delay, eventually, NODE, podManifest, startCluster, type Cluster } from './helpers.js';

let cluster: Cluster;
let source: ApiserverPodSource;
let manager: StatusManager;

const T0 = '2026-01-01T00:00:00Z';
const STATUS_PATCHES = { verb: 'patch', resource: 'pods', subresource: 'status' } as const;

function status(phase: PodStatus['phase'], ready: boolean, podIP?: string): PodStatus {
  return {
    phase,
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
      ready
        ? { type: 'Ready', status: 'True', lastTransitionTime: T0 }
        : { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T0 },
      ready
        ? { type: 'ContainersReady', status: 'True', lastTransitionTime: T0 }
        : { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]', lastTransitionTime: T0 },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
    ],
    hostIP: '10.0.0.1',
    hostIPs: [{ ip: '10.0.0.1' }],
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: T0,
    containerStatuses: [
      {
        name: 'app',
        image: 'busybox:1.36',
        imageID: ready ? 'docker-pullable://busybox@sha256:1' : '',
        restartCount: 0,
        ready,
        started: ready,
        ...(ready ? { containerID: 'docker://abc' } : {}),
        state: ready ? { running: { startedAt: T0 } } : { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
      },
    ],
    qosClass: 'BestEffort',
  };
}

function serverPod(name: string): Pod {
  return cluster.server.get<Pod>('pods', 'default', name);
}

async function start(resyncPeriodMs = 10_000): Promise<void> {
  source = new ApiserverPodSource({
    client: cluster.client,
    nodeName: NODE,
    logger: silentLogger,
    tuning: { backoff: { initialMs: 50, maxMs: 200, jitter: 0 } },
  });
  await source.start(() => undefined);
  manager = new StatusManager({
    client: cluster.client,
    logger: silentLogger,
    pods: source,
    resyncPeriodMs,
    backoff: { initialMs: 100, maxMs: 400, jitter: 0 },
  });
  manager.start();
}

beforeEach(async () => {
  cluster = await startCluster();
});

afterEach(async () => {
  await manager?.stop();
  await source?.stop();
  await cluster.close();
});

describe('StatusManager against the apiserver', () => {
  it('sends Pending then Running as strategic merge patches, and nothing when unchanged', async () => {
    const { server } = cluster;
    const pod = server.create<Pod>('pods', 'default', podManifest('web'));
    await start();
    manager.setPodStatus(pod, status('Pending', false));
    await manager.flush();
    manager.setPodStatus(pod, status('Running', true, '10.88.0.7'));
    await manager.flush();
    expect(serverPod('web').status).toMatchObject({ phase: 'Running', podIP: '10.88.0.7', startTime: T0 });
    const ready = serverPod('web').status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toEqual({ type: 'Ready', status: 'True', lastTransitionTime: T0 });
    expect(serverPod('web').status?.containerStatuses?.[0]?.state).toEqual({ running: { startedAt: T0 } });

    const patches = server.requestsMatching(STATUS_PATCHES);
    expect(patches).toHaveLength(2);
    expect(patches.every((r) => r.contentType === 'application/strategic-merge-patch+json' && r.status === 200)).toBe(true);

    // The same status again, and a resync: no request.
    manager.setPodStatus(pod, status('Running', true, '10.88.0.7'));
    manager.resync();
    await manager.flush();
    await delay(100);
    expect(server.countRequests(STATUS_PATCHES)).toBe(2);
    expect(manager.patchCount(pod.metadata.uid!)).toBe(2);
  });

  it('carries the UID precondition: a pod re-created under the same name is not written', async () => {
    const { server } = cluster;
    const old = server.create<Pod>('pods', 'default', podManifest('web'));
    await start();
    // A cache that has not seen the re-creation yet: the patch goes out for the old UID.
    await manager.stop();
    manager = new StatusManager({
      client: cluster.client,
      logger: silentLogger,
      pods: { getPod: () => old, onPodChange: () => () => undefined, hasSynced: () => true },
    });
    server.delete('pods', 'default', 'web', { gracePeriodSeconds: 0 });
    const fresh = server.create<Pod>('pods', 'default', podManifest('web'));
    manager.setPodStatus(old, status('Running', true));
    await manager.flush();
    expect(server.requestsMatching(STATUS_PATCHES).map((r) => r.status)).toEqual([409]);
    expect(serverPod('web').status?.phase).toBe('Pending');
    expect(serverPod('web').metadata.uid).toBe(fresh.metadata.uid);
    // The old pod's status is dropped for good.
    manager.setPodStatus(old, status('Succeeded', false));
    await manager.flush();
    expect(server.countRequests(STATUS_PATCHES)).toBe(1);
  });

  it('retries a patch answered with 500, without holding up another pod', async () => {
    const { server } = cluster;
    const a = server.create<Pod>('pods', 'default', podManifest('a'));
    const b = server.create<Pod>('pods', 'default', podManifest('b'));
    await start();
    server.failNext(1, { status: 500, verb: 'patch', path: /\/pods\/a\/status$/ });
    manager.setPodStatus(a, status('Running', true));
    manager.setPodStatus(b, status('Running', true));
    await eventually('b written', () => serverPod('b').status?.phase === 'Running');
    await eventually('a written after its retry', () => serverPod('a').status?.phase === 'Running');
    expect(server.countRequests({ ...STATUS_PATCHES, name: 'a' })).toBe(2);
    expect(server.countRequests({ ...STATUS_PATCHES, name: 'a', status: 500 })).toBe(1);
    expect(server.countRequests({ ...STATUS_PATCHES, name: 'b' })).toBe(1);
  });

  it('sends the current status once the apiserver is back after an outage', async () => {
    const { server } = cluster;
    const a = server.create<Pod>('pods', 'default', podManifest('a'));
    await start();
    manager.setPodStatus(a, status('Pending', false));
    await manager.flush();
    await server.goDown();
    manager.setPodStatus(a, status('Running', false, '10.88.0.9'));
    await delay(300);
    manager.setPodStatus(a, status('Running', true, '10.88.0.9'));
    await delay(300);
    await server.comeBack();
    await eventually('current status arrived', () => serverPod('a').status?.containerStatuses?.[0]?.ready === true);
    expect(serverPod('a').status?.phase).toBe('Running');
  });

  it('re-sends statuses an apiserver restored from an old state lost (resync)', async () => {
    const { server } = cluster;
    const a = server.create<Pod>('pods', 'default', podManifest('a'));
    await start(300);
    manager.setPodStatus(a, status('Running', true, '10.88.0.3'));
    await manager.flush();
    // As a restore from backup would: the status goes back to what it was at creation.
    server.updateStatus('pods', 'default', { ...serverPod('a'), status: { phase: 'Pending', qosClass: 'BestEffort' } });
    await eventually('status restored', () => serverPod('a').status?.phase === 'Running', 5_000);
    expect(serverPod('a').status?.podIP).toBe('10.88.0.3');
  });

  it('finishes a graceful deletion: terminal status, then DELETE with grace 0 and the UID precondition', async () => {
    const { server } = cluster;
    const a = server.create<Pod>('pods', 'default', podManifest('a'));
    await start();
    manager.setPodStatus(a, status('Running', true));
    await manager.flush();
    server.delete('pods', 'default', 'a');
    await eventually('informer saw the deletion mark', () => source.getPod('default', 'a')?.metadata.deletionTimestamp !== undefined);
    expect(serverPod('a').metadata.deletionGracePeriodSeconds).toBe(30);

    // The agent stopped the containers, removed the sandbox and volumes.
    manager.podDeleted(source.getPod('default', 'a')!);
    await manager.flush();
    expect(server.find('pods', 'default', 'a')).toBeUndefined();
    // The deletion request above went to the store directly: the one DELETE over HTTP is ours.
    const deletes = server.requestsMatching({ verb: 'delete', resource: 'pods', name: 'a' });
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.status).toBe(200);
    // The terminal phase reached the server before the object was removed.
    expect(server.countRequests(STATUS_PATCHES)).toBe(2);
  });
});
