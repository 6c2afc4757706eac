// The apiserver pod source against the in-memory apiserver on loopback: only this
// node's pods, mirror pods kept apart, one snapshot per real change, and no lost or
// duplicated snapshot across a dropped watch, a 410 and an outage.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { ApiserverPodSource } from '../../../agent/sources/apiserver-pod-source.js';
import type { PodSourceUpdate } from '../../../agent/sources/types.js';
import { delay, eventually, NODE, podManifest, startCluster, type Cluster } from './helpers.js';

let cluster: Cluster;
let source: ApiserverPodSource;
let updates: PodSourceUpdate[];

const names = (u: PodSourceUpdate | undefined) => (u?.pods ?? []).map((p) => p.metadata.name).sort();
const last = () => updates.at(-1);

async function startSource(): Promise<void> {
  source = new ApiserverPodSource({
    client: cluster.client,
    nodeName: NODE,
    logger: silentLogger,
    coalesceMs: 30,
    tuning: { backoff: { initialMs: 50, maxMs: 200, jitter: 0 } },
  });
  await source.start((u) => updates.push(u));
}

beforeEach(async () => {
  cluster = await startCluster();
  updates = [];
});

afterEach(async () => {
  await source?.stop();
  await cluster.close();
});

describe('ApiserverPodSource', () => {
  it('delivers only the pods bound to this node, mirror pods and invalid pods left out', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('mine'));
    server.create('pods', 'kube-system', podManifest('mine-too', NODE, { namespace: 'kube-system' }));
    server.create('pods', 'default', podManifest('theirs', 'node-b'));
    server.create('pods', 'default', podManifest('unscheduled', ''));
    server.create('pods', 'default', podManifest('mirror-node-a', NODE, { annotations: { 'kubernetes.io/config.mirror': 'abc' } }));
    const bad = podManifest('bad-env');
    bad.spec.containers[0]!.env = [{ name: '1BAD', value: 'x' }];
    server.create('pods', 'default', bad);

    await startSource();
    expect(updates).toHaveLength(1);
    expect(names(last())).toEqual(['mine', 'mine-too']);
    expect(last()?.rejected).toEqual([]);
    expect(source.mirrorPods().map((p) => p.metadata.name)).toEqual(['mirror-node-a']);
    expect(source.getPod('default', 'mirror-node-a')?.metadata.annotations?.['kubernetes.io/config.mirror']).toBe('abc');
    expect(source.invalidPods().map((i) => i.pod.metadata.name)).toEqual(['bad-env']);
    expect(source.invalidPods()[0]?.message).toContain('spec.containers[0].env[0].name');
    // Pods arrive defaulted by the server.
    expect(last()?.pods[0]?.spec.restartPolicy).toBe('Always');
  });

  it('delivers a snapshot per change after the first, but not for status-only changes', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('a'));
    await startSource();
    server.create('pods', 'default', podManifest('b'));
    await eventually('b delivered', () => names(last()).includes('b'));
    const count = updates.length;

    // Our own status patches come back as watch events: they are not a new snapshot.
    server.patch('pods', 'default', 'a', { status: { phase: 'Running' } }, 'strategic', { subresource: 'status' });
    await delay(300);
    expect(updates).toHaveLength(count);

    // A label change (or a deletion request) is.
    server.patch('pods', 'default', 'a', { metadata: { labels: { tier: 'web' } } });
    await eventually('label delivered', () => updates.length === count + 1);
    expect(last()?.pods.find((p) => p.metadata.name === 'a')?.metadata.labels).toEqual({ tier: 'web' });

    server.delete('pods', 'default', 'b', { gracePeriodSeconds: 0 });
    await eventually('b removed', () => !names(last()).includes('b'));
  });

  it('folds a burst of changes into one snapshot', async () => {
    const { server } = cluster;
    await startSource();
    for (let i = 0; i < 10; i++) server.create('pods', 'default', podManifest(`burst-${i}`));
    await eventually('all ten delivered', () => names(last()).length === 10);
    await delay(100);
    expect(updates.length).toBeLessThanOrEqual(3);
  });

  it('survives a dropped watch: changes made meanwhile arrive once, nothing is replayed', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('a'));
    await startSource();
    await eventually('watch open', () => server.openWatches === 1);
    server.dropWatches();
    server.create('pods', 'default', podManifest('b'));
    await eventually('b delivered', () => names(last()).includes('b'));
    await delay(300);
    expect(updates.map(names)).toEqual([['a'], ['a', 'b']]);
  });

  it('re-lists after 410 Gone without a duplicate snapshot, and delivers what changed during the gap', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('a'));
    server.create('pods', 'default', podManifest('b'));
    await startSource();
    await eventually('watch open', () => server.openWatches === 1);
    const lists = () => server.countRequests({ verb: 'list', resource: 'pods' });
    const listsBefore = lists();

    // Only another node's pod changed behind the 410: the re-list must not produce a snapshot.
    server.dropWatches();
    server.create('pods', 'default', podManifest('elsewhere', 'node-b'));
    server.compact();
    await eventually('re-listed', () => lists() > listsBefore);
    await eventually('watch open again', () => server.openWatches === 1);
    await delay(200);
    expect(updates).toHaveLength(1);

    // Changes behind a 410: one snapshot with all of them.
    server.dropWatches();
    server.delete('pods', 'default', 'a', { gracePeriodSeconds: 0 });
    server.create('pods', 'default', podManifest('c'));
    server.compact();
    await eventually('gap delivered', () => names(last()).join() === 'b,c');
    await delay(200);
    expect(updates.map(names)).toEqual([
      ['a', 'b'],
      ['b', 'c'],
    ]);
  });

  it('keeps the last snapshot while the apiserver is down, and catches up when it is back', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('a'));
    server.create('pods', 'default', podManifest('b'));
    await startSource();
    await server.goDown();
    await delay(400);
    expect(updates).toHaveLength(1);
    expect(source.getPod('default', 'a')).toBeDefined();

    // Changed while we could not see it.
    server.delete('pods', 'default', 'a', { gracePeriodSeconds: 0 });
    server.create('pods', 'default', podManifest('c'));
    await server.comeBack();
    await eventually('caught up', () => names(last()).join() === 'b,c');
    expect(updates.every((u) => u.pods.length > 0)).toBe(true);
  });

  it('marks a pod being deleted in the snapshot (deletionTimestamp)', async () => {
    const { server } = cluster;
    server.create('pods', 'default', podManifest('a'));
    await startSource();
    server.delete('pods', 'default', 'a');
    await eventually('deletion delivered', () => last()?.pods[0]?.metadata.deletionTimestamp !== undefined);
    const pod = last()?.pods[0] as Pod;
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(30);
  });
});
