import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
  ...extra,
});

describe('TestApiServer CRUD', () => {
  let server: TestApiServer;
  beforeEach(async () => {
    server = new TestApiServer();
    await server.start();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('creates with server-set metadata, defaults and a reset status', async () => {
    const r = await call(server, 'POST', '/api/v1/namespaces/default/pods', pod('p1', { status: { phase: 'Running' } }));
    expect(r.status).toBe(201);
    const meta = r.body.metadata;
    expect(meta.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(meta.namespace).toBe('default');
    expect(Number(meta.resourceVersion)).toBeGreaterThan(0);
    expect(r.body.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(r.body.spec.restartPolicy).toBe('Always');
    expect(r.body.spec.terminationGracePeriodSeconds).toBe(30);
    expect(r.body.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
    const got = await call(server, 'GET', '/api/v1/namespaces/default/pods/p1');
    expect(got.body).toEqual(r.body);
    expect(got.body.kind).toBe('Pod');
  });

  it('bumps one global resourceVersion on every write, across kinds', async () => {
    const a = await call(server, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'a' }, data: { k: 'v' } });
    const n = await call(server, 'POST', '/api/v1/nodes', { metadata: { name: 'n1' } });
    const b = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/a', { ...a.body, data: { k: 'w' } });
    const rvs = [a, n, b].map((r) => Number(r.body.metadata.resourceVersion));
    expect(rvs[1]).toBeGreaterThan(rvs[0]!);
    expect(rvs[2]).toBeGreaterThan(rvs[1]!);
    expect(server.resourceVersion).toBe(String(rvs[2]));
    expect(n.body.metadata.namespace).toBeUndefined();
  });

  it('generates names from generateName', async () => {
    const r = await call(server, 'POST', '/api/v1/namespaces/default/events', {
      metadata: { generateName: 'ev-' },
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' },
      reason: 'Started',
    });
    expect(r.status).toBe(201);
    expect(r.body.metadata.name).toMatch(/^ev-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('answers AlreadyExists, NotFound and Conflict as Status objects', async () => {
    await call(server, 'POST', '/api/v1/namespaces/default/pods', pod('p1'));
    const dup = await call(server, 'POST', '/api/v1/namespaces/default/pods', pod('p1'));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'AlreadyExists',
      code: 409,
      details: { name: 'p1', kind: 'pods' },
    });
    const missing = await call(server, 'GET', '/api/v1/namespaces/default/pods/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'pods "nope" not found' });
    const lease = await call(server, 'GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/x');
    expect(lease.body).toMatchObject({ reason: 'NotFound', details: { group: 'coordination.k8s.io', kind: 'leases' } });
  });

  it('rejects an update carrying a stale resourceVersion and accepts an unconditional one', async () => {
    const created = await call(server, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'cm' }, data: { a: '1' } });
    const first = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/cm', { ...created.body, data: { a: '2' } });
    expect(first.status).toBe(200);
    const stale = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/cm', { ...created.body, data: { a: '3' } });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    const { resourceVersion: _rv, ...meta } = created.body.metadata;
    const blind = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/cm', { ...created.body, metadata: meta, data: { a: '4' } });
    expect(blind.status).toBe(200);
    expect(blind.body.data).toEqual({ a: '4' });
  });

  it('does not write an update that changes nothing', async () => {
    const created = await call(server, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'cm' }, data: { a: '1' } });
    const same = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/cm', created.body);
    expect(same.body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);
    expect(server.resourceVersion).toBe(created.body.metadata.resourceVersion);
  });

  it('refuses a changed uid on update with a precondition conflict', async () => {
    const created = await call(server, 'POST', '/api/v1/nodes', { metadata: { name: 'n1' } });
    const r = await call(server, 'PUT', '/api/v1/nodes/n1', { ...created.body, metadata: { ...created.body.metadata, uid: 'other' } });
    expect(r.status).toBe(409);
    expect(r.body.message).toContain('Precondition failed: UID in precondition: other');
  });

  it('lists within a namespace and across all, with the current resourceVersion', async () => {
    await call(server, 'POST', '/api/v1/namespaces', { metadata: { name: 'other' } });
    await call(server, 'POST', '/api/v1/namespaces/default/pods', pod('a'));
    await call(server, 'POST', '/api/v1/namespaces/other/pods', pod('b'));
    const all = await call(server, 'GET', '/api/v1/pods');
    expect(all.body.kind).toBe('PodList');
    expect(all.body.items.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['default/a', 'other/b']);
    expect(all.body.metadata.resourceVersion).toBe(server.resourceVersion);
    const one = await call(server, 'GET', '/api/v1/namespaces/other/pods');
    expect(one.body.items.map((p: any) => p.metadata.name)).toEqual(['b']);
  });

  it('keeps cluster-scoped and namespaced paths apart', async () => {
    expect((await call(server, 'GET', '/api/v1/namespaces/default/nodes')).status).toBe(404);
    expect((await call(server, 'GET', '/api/v1/pods/p1')).status).toBe(404);
    const ns = await call(server, 'GET', '/api/v1/namespaces/kube-node-lease');
    expect(ns.body.status.phase).toBe('Active');
  });

  it('validates names, event namespaces and lease MicroTimes like the real registry', async () => {
    const badName = await call(server, 'POST', '/api/v1/namespaces/default/pods', pod('Bad_Name'));
    expect(badName.status).toBe(422);
    expect(badName.body.reason).toBe('Invalid');
    expect(badName.body.details.causes[0].field).toBe('metadata.name');
    const ev = await call(server, 'POST', '/api/v1/namespaces/default/events', {
      metadata: { name: 'e1' },
      involvedObject: { kind: 'Pod', namespace: 'kube-system', name: 'p' },
    });
    expect(ev.status).toBe(422);
    const lease = (renewTime: string) => ({
      metadata: { name: 'node-a' },
      spec: { holderIdentity: 'node-a', leaseDurationSeconds: 40, renewTime },
    });
    const millis = await call(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('2024-05-01T10:00:00.123Z'));
    expect(millis.status).toBe(400);
    const micros = await call(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('2024-05-01T10:00:00.123456Z'));
    expect(micros.status).toBe(201);
    expect(micros.body.spec.renewTime).toBe('2024-05-01T10:00:00.123456Z');
  });

  it('stores metav1.Time to the second, as the real server does', async () => {
    await call(server, 'POST', '/api/v1/nodes', { metadata: { name: 'n1' } });
    const r = await call(
      server,
      'PATCH',
      '/api/v1/nodes/n1/status',
      {
        status: {
          conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-01T10:00:00.987Z', lastTransitionTime: '2024-05-01T12:00:00+02:00' }],
        },
      },
      'application/strategic-merge-patch+json',
    );
    expect(r.body.status.conditions[0].lastHeartbeatTime).toBe('2024-05-01T10:00:00Z');
    expect(r.body.status.conditions[0].lastTransitionTime).toBe('2024-05-01T10:00:00Z');
  });

  it('creates on PUT only for kinds that allow it', async () => {
    const ep = await call(server, 'PUT', '/api/v1/namespaces/default/endpoints/svc', { metadata: { name: 'svc' }, subsets: [] });
    expect(ep.status).toBe(201);
    const cm = await call(server, 'PUT', '/api/v1/namespaces/default/configmaps/x', { metadata: { name: 'x' } });
    expect(cm.status).toBe(404);
  });

  it('requires the bearer token when one is set', async () => {
    const secured = new TestApiServer({ token: 'sekret' });
    await secured.start();
    try {
      const anon = await call(secured, 'GET', '/api/v1/pods');
      expect(anon.status).toBe(401);
      expect(anon.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
      const ok = await call(secured, 'GET', '/api/v1/pods', undefined, 'application/json', 'sekret');
      expect(ok.status).toBe(200);
    } finally {
      await secured.stop();
    }
  });

  it('gives tests direct store helpers with the same semantics', () => {
    const created = server.create<any>('pods', 'default', pod('direct'));
    expect(created.status.phase).toBe('Pending');
    const running = server.updateStatus<any>('pods', 'default', { ...created, status: { phase: 'Running' } });
    expect(running.status.phase).toBe('Running');
    expect(server.list('pods', 'default', { labelSelector: 'app=web' })).toHaveLength(1);
    expect(server.find('pods', 'default', 'nope')).toBeUndefined();
    expect(() => server.get('pods', 'default', 'nope')).toThrow('pods "nope" not found');
    expect(() => server.update('pods', 'default', created)).toThrow(/Operation cannot be fulfilled/);
  });

  it('waitFor resolves when a write over HTTP makes the predicate true', async () => {
    server.create('pods', undefined, pod('w'));
    const running = server.waitFor<any>('pods', 'default', 'w', (p) => p?.status?.phase === 'Running');
    await call(server, 'PATCH', '/api/v1/namespaces/default/pods/w/status', { status: { phase: 'Running' } }, 'application/merge-patch+json');
    expect((await running)!.status.phase).toBe('Running');
    const gone = server.waitFor('pods', 'default', 'w', (p) => p === undefined);
    server.delete('pods', 'default', 'w');
    expect(await gone).toBeUndefined();
    await expect(server.waitFor('pods', 'default', 'never', (p) => p !== undefined, 50)).rejects.toThrow(/not true within 50 ms/);
  });
});
