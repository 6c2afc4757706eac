import { beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../agent/api/types.js';
import { ApiUnavailableError } from '../../../agent/kube/errors.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { buildMirrorPod, MirrorPodManager } from '../../../agent/status/mirror-pods.js';
import { isMirrorPod } from '../../../agent/api/pod-identity.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { FakePodApi } from './fake-pod-api.js';

let api: FakePodApi;
let clock: FakeClock;
let mirrors: MirrorPodManager;

function staticPod(name: string, hash: string, labels: Record<string, string> = { app: name }): Pod {
  return {
    metadata: {
      name,
      namespace: 'kube-system',
      uid: hash,
      labels,
      annotations: { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': hash, 'kubernetes.io/config.seen': '2026-01-01T00:00:00Z' },
    },
    spec: { containers: [{ name: 'app', image: 'busybox' }], nodeName: 'node-a' },
  };
}

function mirrorsNow(): Pod[] {
  return ['etcd-node-a', 'web-node-a'].map((n) => api.stored('kube-system', n)).filter((p): p is Pod => p !== undefined && isMirrorPod(p));
}

beforeEach(() => {
  api = new FakePodApi();
  clock = new FakeClock();
  mirrors = new MirrorPodManager({
    client: api,
    nodeName: 'node-a',
    logger: silentLogger,
    clock,
    nodeUID: async () => 'node-uid',
    backoff: { initialMs: 1000, maxMs: 4000, jitter: 0 },
  });
});

describe('buildMirrorPod', () => {
  it('copies name, namespace, labels and spec, adds the mirror annotation and the Node as controller', () => {
    const mirror = buildMirrorPod(staticPod('etcd-node-a', 'h1'), 'node-a', 'node-uid');
    expect(mirror.metadata).toEqual({
      name: 'etcd-node-a',
      namespace: 'kube-system',
      labels: { app: 'etcd-node-a' },
      annotations: {
        'kubernetes.io/config.source': 'file',
        'kubernetes.io/config.hash': 'h1',
        'kubernetes.io/config.seen': '2026-01-01T00:00:00Z',
        'kubernetes.io/config.mirror': 'h1',
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'node-uid', controller: true }],
    });
    expect(mirror.metadata.uid).toBeUndefined();
    expect(mirror.spec.nodeName).toBe('node-a');
  });
});

describe('MirrorPodManager.sync', () => {
  it('creates a missing mirror pod, and leaves a current one alone', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    expect(api.count('POST')).toBe(1);
    expect(mirrorsNow()).toHaveLength(1);
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], mirrorsNow());
    expect(api.requests).toHaveLength(1);
  });

  it('replaces a mirror of an older version of the static pod (hash differs)', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    const old = mirrorsNow()[0]!;
    await mirrors.sync([staticPod('etcd-node-a', 'h2')], mirrorsNow());
    const del = api.requests.find((r) => r.method === 'DELETE');
    expect(del?.body).toEqual({ gracePeriodSeconds: 0, preconditions: { uid: old.metadata.uid } });
    const now = mirrorsNow()[0]!;
    expect(now.metadata.annotations?.['kubernetes.io/config.mirror']).toBe('h2');
    expect(now.metadata.uid).not.toBe(old.metadata.uid);
  });

  it('deletes a mirror whose static pod is gone, with the UID precondition', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    const mirror = mirrorsNow()[0]!;
    await mirrors.sync([], mirrorsNow());
    expect(mirrorsNow()).toHaveLength(0);
    expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', body: { preconditions: { uid: mirror.metadata.uid } } });
  });

  it('re-creates a mirror someone deleted', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    api.remove('kube-system', 'etcd-node-a');
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    expect(mirrorsNow()).toHaveLength(1);
    expect(api.count('POST')).toBe(2);
  });

  it('replaces a mirror that is being deleted', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    api.mutate('kube-system', 'etcd-node-a', (p) => {
      p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    });
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], mirrorsNow());
    expect(api.count('DELETE')).toBe(1);
    expect(mirrorsNow()[0]?.metadata.deletionTimestamp).toBeUndefined();
  });

  it('takes an existing current mirror as done when the informer had not seen it yet', async () => {
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    expect(api.count('POST')).toBe(2);
    expect(mirrors.lastResult).toEqual({ created: [], deleted: [], failed: [] });
  });

  it('skips pods that are not static', async () => {
    const apiPod = staticPod('web-node-a', 'h9');
    delete apiPod.metadata.annotations!['kubernetes.io/config.source'];
    await mirrors.sync([apiPod], []);
    expect(api.requests).toHaveLength(0);
  });

  it('retries a failed pass with backoff', async () => {
    api.failNext(() => new ApiUnavailableError('POST', '/x', 'connect ECONNREFUSED'), 'POST');
    await mirrors.sync([staticPod('etcd-node-a', 'h1')], []);
    expect(mirrors.lastResult.failed).toEqual(['kube-system/etcd-node-a']);
    expect(mirrorsNow()).toHaveLength(0);
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(mirrorsNow()).toHaveLength(1);
  });
});
