// Mirror pods against the in-memory apiserver, wired as the agent wires them: the
// pod informer reports mirror pods, every change re-syncs them with the static pods.
// Also: a static pod's status lands on its mirror pod.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { ApiserverPodSource } from '../../../agent/sources/apiserver-pod-source.js';
import { withStaticPodIdentity } from '../../../agent/sources/static-pod-uid.js';
import { MirrorPodManager } from '../../../agent/status/mirror-pods.js';
import { StatusManager } from '../../../agent/status/status-manager.js';
import { eventually, NODE, startCluster, type Cluster } from './helpers.js';

let cluster: Cluster;
let source: ApiserverPodSource;
let mirrors: MirrorPodManager;
let statusManager: StatusManager | undefined;
let staticPods: Pod[];
let nodeUID: string;
let apiSnapshots: string[][];

function staticPod(image: string): Pod {
  const manifest: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'etcd', namespace: 'kube-system', labels: { component: 'etcd' } },
    spec: { containers: [{ name: 'etcd', image }] },
  };
  return withStaticPodIdentity(manifest, { path: '/etc/nodelet/manifests/etcd.yaml', nodeName: NODE }, new Date('2026-01-01T00:00:00Z'));
}

function mirror(): Pod | undefined {
  return cluster.server.find<Pod>('pods', 'kube-system', `etcd-${NODE}`);
}

function resync(): Promise<void> {
  return mirrors.sync(staticPods, source.mirrorPods());
}

beforeEach(async () => {
  cluster = await startCluster();
  nodeUID = cluster.server.create<{ metadata: { uid: string } }>('nodes', undefined, { metadata: { name: NODE } }).metadata.uid;
  source = new ApiserverPodSource({
    client: cluster.client,
    nodeName: NODE,
    logger: silentLogger,
    tuning: { backoff: { initialMs: 50, maxMs: 200, jitter: 0 } },
  });
  mirrors = new MirrorPodManager({ client: cluster.client, nodeName: NODE, logger: silentLogger, backoff: { initialMs: 50, maxMs: 200, jitter: 0 } });
  staticPods = [];
  apiSnapshots = [];
  await source.start((u) => apiSnapshots.push(u.pods.map((p) => p.metadata.name ?? '')));
  source.onPodChange((pod) => {
    if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) void resync();
  });
});

afterEach(async () => {
  await statusManager?.stop();
  statusManager = undefined;
  await mirrors.stop();
  await source.stop();
  await cluster.close();
});

describe('mirror pods', () => {
  it('creates the mirror of a static pod with the hash annotation and the Node as owner', async () => {
    staticPods = [staticPod('etcd:3.5')];
    await resync();
    const m = mirror();
    expect(m?.metadata.annotations?.['kubernetes.io/config.mirror']).toBe(staticPods[0]!.metadata.uid);
    expect(m?.metadata.annotations?.['kubernetes.io/config.source']).toBe('file');
    expect(m?.metadata.labels).toEqual({ component: 'etcd' });
    expect(m?.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: nodeUID, controller: true }]);
    expect(m?.spec.nodeName).toBe(NODE);
    expect(m?.spec.containers[0]?.image).toBe('etcd:3.5');
    // The informer sees it as a mirror, not as a pod to run.
    await eventually('informer has the mirror', () => source.mirrorPods().length === 1);
    expect(apiSnapshots.every((s) => s.length === 0)).toBe(true);
  });

  it('replaces the mirror when the static pod changes, and deletes it when the static pod goes', async () => {
    staticPods = [staticPod('etcd:3.5')];
    await resync();
    const first = mirror()!;
    await eventually('informer has the mirror', () => source.mirrorPods().length === 1);

    staticPods = [staticPod('etcd:3.6')];
    await resync();
    const second = mirror()!;
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    expect(second.spec.containers[0]?.image).toBe('etcd:3.6');
    expect(second.metadata.annotations?.['kubernetes.io/config.mirror']).toBe(staticPods[0]!.metadata.uid);

    await eventually('informer has the new mirror', () => source.mirrorPods()[0]?.metadata.uid === second.metadata.uid);
    staticPods = [];
    await resync();
    expect(mirror()).toBeUndefined();
  });

  it('re-creates a mirror a user deleted', async () => {
    staticPods = [staticPod('etcd:3.5')];
    await resync();
    const first = mirror()!;
    cluster.server.delete('pods', 'kube-system', `etcd-${NODE}`, { gracePeriodSeconds: 0 });
    await eventually('mirror re-created', () => mirror() !== undefined && mirror()!.metadata.uid !== first.metadata.uid);
  });

  it("puts the static pod's status on its mirror pod", async () => {
    statusManager = new StatusManager({ client: cluster.client, logger: silentLogger, pods: source });
    statusManager.start();
    staticPods = [staticPod('etcd:3.5')];
    statusManager.setPodStatus(staticPods[0]!, { phase: 'Running', startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }] });
    await resync();
    await eventually('status on the mirror', () => mirror()?.status?.phase === 'Running');
    expect(statusManager.patchCount(staticPods[0]!.metadata.uid!)).toBe(1);
  });
});
