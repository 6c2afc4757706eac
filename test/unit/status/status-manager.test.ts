import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod, PodStatus } from '../../../agent/api/types.js';
import { ApiUnavailableError } from '../../../agent/kube/errors.js';
import { silentLogger } from '../../../agent/log/logger.js';
import { StatusManager } from '../../../agent/status/status-manager.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { FakePodApi, serverError } from './fake-pod-api.js';

let api: FakePodApi;
let clock: FakeClock;
let manager: StatusManager;

const T0 = '2026-01-01T00:00:00Z';

function status(phase: PodStatus['phase'], ready = false, extra: Partial<PodStatus> = {}): PodStatus {
  return {
    phase,
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', ...(ready ? {} : { reason: 'ContainersNotReady' }), lastTransitionTime: T0 },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
    ],
    startTime: T0,
    ...extra,
  };
}

function apiPod(name: string, extra: Partial<Pod['metadata']> = {}): Pod {
  return api.add({ metadata: { name, namespace: 'default', ...extra }, spec: { containers: [{ name: 'app', image: 'busybox' }], nodeName: 'node-a' } });
}

function staticPod(name: string, hash: string): Pod {
  return {
    metadata: { name, namespace: 'default', uid: hash, annotations: { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': hash } },
    spec: { containers: [{ name: 'app', image: 'busybox' }], nodeName: 'node-a' },
  };
}

/** Lets the fake's promises and the manager's loops run (no timers move). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    await manager.settled();
  }
}

function makeManager(withCache = true): StatusManager {
  manager = new StatusManager({
    client: api,
    logger: silentLogger,
    clock,
    ...(withCache ? { pods: api } : {}),
    backoff: { initialMs: 1000, maxMs: 8000, jitter: 0 },
  });
  manager.start();
  return manager;
}

beforeEach(() => {
  api = new FakePodApi();
  clock = new FakeClock();
  makeManager();
});

afterEach(async () => {
  await manager.stop();
});

describe('StatusManager: sending', () => {
  it('patches pods/<name>/status as a strategic merge with the UID precondition', async () => {
    const pod = apiPod('web');
    manager.setPodStatus(pod, status('Pending'));
    await settle();
    expect(api.requests).toHaveLength(1);
    const [req] = api.requests;
    expect(req).toMatchObject({ method: 'PATCH', path: '/api/v1/namespaces/default/pods/web/status', patchType: 'strategic' });
    expect((req!.body as { metadata: unknown }).metadata).toEqual({ uid: pod.metadata.uid });
    expect(api.stored('default', 'web')?.status?.phase).toBe('Pending');
    expect(manager.patchCount(pod.metadata.uid!)).toBe(1);
  });

  it('does not send a status equal to the one the server acknowledged', async () => {
    const pod = apiPod('web');
    manager.setPodStatus(pod, status('Running', true));
    await settle();
    // Same status, only condition times moved: nothing to send.
    const again = status('Running', true);
    again.conditions![0]!.lastTransitionTime = '2026-01-01T00:01:00Z';
    manager.setPodStatus(pod, again);
    await manager.flush();
    clock.advance(10_000);
    await settle();
    expect(api.count('PATCH')).toBe(1);
  });

  it('does not send what the server already has (agent restart): no request at all', async () => {
    const pod = apiPod('web');
    api.mutate('default', 'web', (p) => {
      p.status = status('Running', true);
    });
    manager.setPodStatus(pod, status('Running', true));
    await settle();
    expect(api.requests).toHaveLength(0);
  });

  it('coalesces a burst of updates into one patch with the latest status', async () => {
    const pod = apiPod('web');
    manager.setPodStatus(pod, status('Pending'));
    manager.setPodStatus(pod, status('Running'));
    manager.setPodStatus(pod, status('Running', true));
    await settle();
    expect(api.count('PATCH')).toBe(1);
    expect(api.stored('default', 'web')?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('folds updates arriving while a patch is in flight into one more patch', async () => {
    const pod = apiPod('web');
    let open!: () => void;
    api.gate = new Promise((r) => {
      open = r;
    });
    manager.setPodStatus(pod, status('Pending'));
    await new Promise((r) => setImmediate(r));
    manager.setPodStatus(pod, status('Running'));
    manager.setPodStatus(pod, status('Running', true));
    api.gate = undefined;
    open();
    await settle();
    expect(api.count('PATCH')).toBe(2);
    expect(api.stored('default', 'web')?.status).toMatchObject({ phase: 'Running' });
  });

  it('never moves a terminal phase back', async () => {
    const pod = apiPod('job');
    manager.setPodStatus(pod, status('Failed', false, { reason: 'DeadlineExceeded' }));
    await settle();
    manager.setPodStatus(pod, status('Running', true));
    await settle();
    expect(api.count('PATCH')).toBe(1);
    expect(api.stored('default', 'job')?.status?.phase).toBe('Failed');

    // Nor over a terminal phase the server had before we started.
    const other = apiPod('other');
    api.mutate('default', 'other', (p) => {
      p.status = { phase: 'Succeeded', startTime: T0 };
    });
    manager.setPodStatus(other, status('Running', true));
    await settle();
    expect(api.stored('default', 'other')?.status?.phase).toBe('Succeeded');
  });

  it('without a pod cache, reads the pod first and then patches', async () => {
    await manager.stop();
    makeManager(false);
    const pod = apiPod('web');
    manager.setPodStatus(pod, status('Pending'));
    await settle();
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'PATCH']);
  });
});

describe('StatusManager: failures', () => {
  it('retries a failed patch with backoff for that pod only', async () => {
    const a = apiPod('a');
    const b = apiPod('b');
    api.failNext(serverError, 'PATCH');
    manager.setPodStatus(a, status('Pending'));
    await settle();
    manager.setPodStatus(b, status('Pending'));
    await settle();
    expect(api.stored('default', 'a')?.status?.phase).toBeUndefined();
    expect(api.stored('default', 'b')?.status?.phase).toBe('Pending');
    // a's newer status waits for its backoff, then goes out as one patch.
    manager.setPodStatus(a, status('Running'));
    await settle();
    expect(api.count('PATCH', '/pods/a/')).toBe(1);
    clock.advance(999);
    await settle();
    expect(api.count('PATCH', '/pods/a/')).toBe(1);
    clock.advance(1);
    await settle();
    expect(api.count('PATCH', '/pods/a/')).toBe(2);
    expect(api.stored('default', 'a')?.status?.phase).toBe('Running');
  });

  it('backs off longer while the server stays unreachable, and sends the latest status when it is back', async () => {
    const a = apiPod('a');
    for (let i = 0; i < 3; i++) api.failNext(() => new ApiUnavailableError('PATCH', '/x', 'connect ECONNREFUSED'), 'PATCH');
    manager.setPodStatus(a, status('Pending'));
    await settle();
    clock.advance(1000);
    await settle();
    clock.advance(2000);
    await settle();
    expect(api.count('PATCH')).toBe(3);
    manager.setPodStatus(a, status('Running', true));
    clock.advance(3999);
    await settle();
    expect(api.count('PATCH')).toBe(3);
    clock.advance(1);
    await settle();
    expect(api.count('PATCH')).toBe(4);
    expect(api.stored('default', 'a')?.status?.phase).toBe('Running');
  });

  it('drops the status of a pod whose object is gone (404) and sends nothing more for it', async () => {
    const a = apiPod('a');
    manager.setPodStatus(a, status('Pending'));
    await settle();
    api.freezeCache();
    api.remove('default', 'a');
    manager.setPodStatus(a, status('Running'));
    await settle();
    expect(api.count('PATCH')).toBe(2);
    manager.setPodStatus(a, status('Running', true));
    clock.advance(30_000);
    await settle();
    expect(api.count('PATCH')).toBe(2);
  });

  it('drops the status when the name now holds another pod (UID precondition)', async () => {
    await manager.stop();
    makeManager(false);
    const a = apiPod('a');
    api.remove('default', 'a');
    apiPod('a');
    manager.setPodStatus(a, status('Pending'));
    await settle();
    expect(api.count('PATCH')).toBe(0);
    expect(api.stored('default', 'a')?.status).toBeUndefined();
  });
});

describe('StatusManager: resync', () => {
  it('restores a status the server lost or someone else changed, at the next resync', async () => {
    const a = apiPod('a');
    manager.setPodStatus(a, status('Running', true));
    await settle();
    api.mutate('default', 'a', (p) => {
      p.status = { phase: 'Pending' };
    });
    clock.advance(9_999);
    await settle();
    expect(api.count('PATCH')).toBe(1);
    clock.advance(1);
    await settle();
    expect(api.count('GET')).toBe(1);
    expect(api.count('PATCH')).toBe(2);
    expect(api.stored('default', 'a')?.status).toMatchObject({ phase: 'Running', startTime: T0 });
  });

  it('does not rewrite when the informer copy merely lags behind our own write', async () => {
    const a = apiPod('a');
    api.freezeCache();
    manager.setPodStatus(a, status('Running', true));
    await settle();
    clock.advance(10_000);
    await settle();
    expect(api.count('PATCH')).toBe(1);
    expect(api.count('GET')).toBe(0);
  });
});

describe('StatusManager: bookkeeping', () => {
  it('forgets orphaned statuses but keeps a final delete under way', async () => {
    const a = apiPod('a');
    const b = apiPod('b');
    const c = apiPod('c');
    for (const p of [a, b, c]) manager.setPodStatus(p, status('Running'));
    await settle();
    api.failNext(() => new ApiUnavailableError('DELETE', '/x', 'connect ECONNREFUSED'), 'DELETE');
    manager.podDeleted(
      api.mutate('default', 'c', (p) => {
        p.metadata.deletionTimestamp = T0;
      }),
    );
    await settle();
    manager.removeOrphanedStatuses(new Set([a.metadata.uid!]));
    expect(manager.getPodStatus(a.metadata.uid!)).toBeDefined();
    expect(manager.getPodStatus(b.metadata.uid!)).toBeUndefined();
    expect(manager.patchCount(b.metadata.uid!)).toBe(0);
    expect(manager.getPodStatus(c.metadata.uid!)).toBeDefined();
    clock.advance(1000);
    await settle();
    expect(api.stored('default', 'c')).toBeUndefined();
    expect(manager.stats()).toMatchObject({ pods: 1, deletes: 1 });
  });
});

describe('StatusManager: static pods', () => {
  it("sends a static pod's status to its mirror pod, once the mirror exists", async () => {
    const pod = staticPod('etcd-node-a', 'hash1');
    manager.setPodStatus(pod, status('Running', true));
    await settle();
    expect(api.requests).toHaveLength(0);
    const mirror = api.add({
      metadata: { name: 'etcd-node-a', namespace: 'default', annotations: { 'kubernetes.io/config.mirror': 'hash1' } },
      spec: pod.spec,
    });
    await settle();
    expect(api.count('PATCH')).toBe(1);
    expect((api.requests[0]!.body as { metadata: { uid: string } }).metadata.uid).toBe(mirror.metadata.uid);
    expect(api.stored('default', 'etcd-node-a')?.status?.phase).toBe('Running');
    expect(manager.patchCount('hash1')).toBe(1);
  });

  it('ignores a mirror of another version of the static pod', async () => {
    api.add({ metadata: { name: 'etcd-node-a', namespace: 'default', annotations: { 'kubernetes.io/config.mirror': 'old' } }, spec: { containers: [] } });
    manager.setPodStatus(staticPod('etcd-node-a', 'hash1'), status('Running', true));
    await settle();
    clock.advance(10_000);
    await settle();
    expect(api.count('PATCH')).toBe(0);
  });
});

describe('StatusManager: final delete', () => {
  it('sends a terminal status, then DELETE with grace 0 and the UID precondition', async () => {
    const a = apiPod('a');
    manager.setPodStatus(a, status('Running', true));
    await settle();
    const marked = api.mutate('default', 'a', (p) => {
      p.metadata.deletionTimestamp = '2026-01-01T00:00:30Z';
      p.metadata.deletionGracePeriodSeconds = 30;
    });
    manager.podDeleted(marked);
    await settle();
    const methods = api.requests.map((r) => r.method);
    expect(methods).toEqual(['PATCH', 'PATCH', 'DELETE']);
    expect((api.requests[1]!.body as { status: { phase: string } }).status.phase).toBe('Failed');
    expect(api.requests[2]).toMatchObject({
      path: '/api/v1/namespaces/default/pods/a',
      body: { gracePeriodSeconds: 0, preconditions: { uid: a.metadata.uid } },
    });
    expect(api.stored('default', 'a')).toBeUndefined();
    expect(manager.stats().deletes).toBe(1);
  });

  it('keeps a terminal phase the pod reached on its own and deletes without another patch', async () => {
    const a = apiPod('a');
    manager.setPodStatus(a, status('Succeeded'));
    await settle();
    const marked = api.mutate('default', 'a', (p) => {
      p.metadata.deletionTimestamp = '2026-01-01T00:00:30Z';
    });
    manager.podDeleted(marked);
    await settle();
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH', 'DELETE']);
  });

  it("only forgets a pod without a pending deletion, and never deletes a static pod's mirror", async () => {
    const a = apiPod('a');
    manager.setPodStatus(a, status('Running'));
    await settle();
    manager.podDeleted(a);
    await settle();
    expect(api.count('DELETE')).toBe(0);
    expect(manager.getPodStatus(a.metadata.uid!)).toBeUndefined();

    const s = staticPod('etcd-node-a', 'hash1');
    api.add({
      metadata: { name: 'etcd-node-a', namespace: 'default', deletionTimestamp: T0, annotations: { 'kubernetes.io/config.mirror': 'hash1' } },
      spec: s.spec,
    });
    manager.podDeleted({ ...s, metadata: { ...s.metadata, deletionTimestamp: T0 } });
    await settle();
    expect(api.count('DELETE')).toBe(0);
  });

  it('retries the final delete when the server is unreachable', async () => {
    apiPod('a');
    const marked = api.mutate('default', 'a', (p) => {
      p.metadata.deletionTimestamp = T0;
      p.status = { phase: 'Failed' };
    });
    api.failNext(() => new ApiUnavailableError('DELETE', '/x', 'connect ECONNREFUSED'), 'DELETE');
    manager.podDeleted(marked);
    await settle();
    expect(api.stored('default', 'a')).toBeDefined();
    clock.advance(1000);
    await settle();
    expect(api.stored('default', 'a')).toBeUndefined();
    expect(api.count('DELETE')).toBe(2);
  });
});
