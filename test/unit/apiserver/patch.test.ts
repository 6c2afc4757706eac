import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyJsonPatch } from '../../support/apiserver/json-patch.js';
import { applyMergePatch } from '../../support/apiserver/merge-patch.js';
import { mergeSchemaFor } from '../../support/apiserver/merge-keys.js';
import { PatchApplyError } from '../../support/apiserver/patch-errors.js';
import { applyStrategicMergePatch } from '../../support/apiserver/strategic-merge-patch.js';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

const smp = (original: unknown, patch: unknown, kind = 'Pod') => applyStrategicMergePatch(original, patch, mergeSchemaFor(kind)) as any;

describe('strategic merge patch', () => {
  const status = {
    phase: 'Pending',
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
    ],
    containerStatuses: [
      { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
      { name: 'b', ready: false, restartCount: 0 },
    ],
    podIPs: [{ ip: '10.0.0.2' }],
  };

  it('merges pod conditions by type and container statuses by name', () => {
    const out = smp(
      { status },
      {
        status: {
          phase: 'Running',
          conditions: [
            { type: 'Ready', status: 'True', reason: null },
            { type: 'Initialized', status: 'True' },
          ],
          containerStatuses: [{ name: 'a', ready: true, state: { running: { startedAt: 't' }, waiting: null } }],
        },
      },
    );
    expect(out.status.phase).toBe('Running');
    expect(out.status.conditions).toEqual([
      { type: 'PodScheduled', status: 'True' },
      { type: 'Ready', status: 'True' },
      { type: 'Initialized', status: 'True' },
    ]);
    expect(out.status.containerStatuses).toEqual([
      { name: 'a', ready: true, restartCount: 0, state: { running: { startedAt: 't' } } },
      { name: 'b', ready: false, restartCount: 0 },
    ]);
    expect(out.status.podIPs).toEqual([{ ip: '10.0.0.2' }]);
  });

  it('merges podIPs by ip, node addresses by type, and replaces lists without a merge key', () => {
    expect(smp({ status }, { status: { podIPs: [{ ip: 'fd00::2' }] } }).status.podIPs).toEqual([{ ip: '10.0.0.2' }, { ip: 'fd00::2' }]);
    const node = {
      status: {
        addresses: [
          { type: 'InternalIP', address: '1.1.1.1' },
          { type: 'Hostname', address: 'h' },
        ],
      },
      spec: { taints: [{ key: 'a' }] },
    };
    const out = smp(node, { status: { addresses: [{ type: 'InternalIP', address: '2.2.2.2' }] }, spec: { taints: [{ key: 'b' }] } }, 'Node');
    expect(out.status.addresses).toEqual([
      { type: 'InternalIP', address: '2.2.2.2' },
      { type: 'Hostname', address: 'h' },
    ]);
    expect(out.spec.taints).toEqual([{ key: 'b' }]);
  });

  it('honours $patch delete and replace in lists and maps', () => {
    const deleted = smp({ status }, { status: { conditions: [{ type: 'Ready', $patch: 'delete' }] } });
    expect(deleted.status.conditions).toEqual([{ type: 'PodScheduled', status: 'True' }]);
    const replacedList = smp({ status }, { status: { containerStatuses: [{ $patch: 'replace' }, { name: 'z', ready: true }] } });
    expect(replacedList.status.containerStatuses).toEqual([{ name: 'z', ready: true }]);
    const meta = { metadata: { labels: { a: '1', b: '2' }, annotations: { x: 'y' } } };
    expect(smp(meta, { metadata: { labels: { c: '3', $patch: 'replace' } } }).metadata.labels).toEqual({ c: '3' });
    expect(smp(meta, { metadata: { annotations: { $patch: 'delete' } } }).metadata).toEqual({ labels: { a: '1', b: '2' } });
  });

  it('applies $setElementOrder and $deleteFromPrimitiveList', () => {
    const out = smp(
      { status },
      { status: { '$setElementOrder/conditions': [{ type: 'Ready' }, { type: 'PodScheduled' }], conditions: [{ type: 'Ready', status: 'True' }] } },
    );
    expect(out.status.conditions.map((c: any) => c.type)).toEqual(['Ready', 'PodScheduled']);
    expect(out.status['$setElementOrder/conditions']).toBeUndefined();
    const fin = smp({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] } });
    expect(fin.metadata.finalizers).toEqual(['b', 'c']);
  });

  it('refuses a merge-key list element without its key', () => {
    expect(() => smp({ status }, { status: { conditions: [{ status: 'True' }] } })).toThrow(/merge key "type"/);
  });
});

describe('merge and JSON patches', () => {
  it('merge patch: maps merge, null deletes, lists replace', () => {
    expect(applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: null, d: 3 }, l: [3] })).toEqual({ a: { b: 1, d: 3 }, l: [3] });
  });

  it('JSON patch: add, remove, replace, test', () => {
    const doc = { metadata: { labels: { a: '1' } }, list: [1, 2] };
    const out = applyJsonPatch(doc, [
      { op: 'test', path: '/metadata/labels/a', value: '1' },
      { op: 'add', path: '/metadata/labels/b~1c', value: '2' },
      { op: 'replace', path: '/list/0', value: 9 },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'remove', path: '/metadata/labels/a' },
    ]);
    expect(out).toEqual({ metadata: { labels: { 'b/c': '2' } }, list: [9, 2, 3] });
    expect(doc.list).toEqual([1, 2]);
    expect(() => applyJsonPatch(doc, [{ op: 'test', path: '/list/0', value: 5 }])).toThrow(PatchApplyError);
    expect(() => applyJsonPatch(doc, [{ op: 'remove', path: '/nope' }])).toThrow(PatchApplyError);
  });
});

describe('PATCH and the status subresource over HTTP', () => {
  let server: TestApiServer;
  let uid: string;
  beforeEach(async () => {
    server = new TestApiServer();
    await server.start();
    const p = server.create<any>('pods', 'default', {
      metadata: { name: 'p', labels: { app: 'a' } },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i:1' }] },
    });
    uid = p.metadata.uid;
  });
  afterEach(async () => {
    await server.stop();
  });

  const statusPatch = (body: unknown) => call(server, 'PATCH', '/api/v1/namespaces/default/pods/p/status', body, 'application/strategic-merge-patch+json');

  it('patches status with a matching uid and refuses a mismatched one', async () => {
    const ok = await statusPatch({ metadata: { uid }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    expect(ok.status).toBe(200);
    expect(ok.body.status.phase).toBe('Running');
    expect(ok.body.status.qosClass).toBe('BestEffort');
    const bad = await statusPatch({ metadata: { uid: 'someone-else' }, status: { phase: 'Failed' } });
    expect(bad.status).toBe(409);
    expect(bad.body.reason).toBe('Conflict');
    expect(server.get<any>('pods', 'default', 'p').status.phase).toBe('Running');
  });

  it('status writes change only status; main writes ignore status', async () => {
    const viaStatus = await statusPatch({ metadata: { labels: { app: 'changed' } }, spec: { nodeName: 'other' }, status: { phase: 'Running' } });
    expect(viaStatus.body.metadata.labels).toEqual({ app: 'a' });
    expect(viaStatus.body.spec.nodeName).toBe('n1');
    const viaMain = await call(
      server,
      'PATCH',
      '/api/v1/namespaces/default/pods/p',
      { metadata: { labels: { app: 'b' } }, status: { phase: 'Failed' } },
      'application/merge-patch+json',
    );
    expect(viaMain.body.metadata.labels).toEqual({ app: 'b' });
    expect(viaMain.body.status.phase).toBe('Running');
  });

  it('rejects a patch carrying a stale resourceVersion', async () => {
    const rv = server.get<any>('pods', 'default', 'p').metadata.resourceVersion;
    await statusPatch({ status: { phase: 'Running' } });
    const stale = await statusPatch({ metadata: { resourceVersion: rv }, status: { phase: 'Failed' } });
    expect(stale.status).toBe(409);
  });

  it('a patch that changes nothing writes nothing', async () => {
    const first = await statusPatch({ status: { phase: 'Running' } });
    const again = await statusPatch({ status: { phase: 'Running' } });
    expect(again.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
  });

  it('supports JSON patch and refuses unknown patch types with 415', async () => {
    const jp = await call(
      server,
      'PATCH',
      '/api/v1/namespaces/default/pods/p',
      [{ op: 'add', path: '/metadata/labels/x', value: 'y' }],
      'application/json-patch+json',
    );
    expect(jp.body.metadata.labels).toEqual({ app: 'a', x: 'y' });
    const failed = await call(
      server,
      'PATCH',
      '/api/v1/namespaces/default/pods/p',
      [{ op: 'test', path: '/metadata/labels/x', value: 'z' }],
      'application/json-patch+json',
    );
    expect(failed.status).toBe(422);
    const unknown = await call(server, 'PATCH', '/api/v1/namespaces/default/pods/p', {}, 'application/apply-patch+yaml');
    expect(unknown.status).toBe(415);
    const missing = await call(server, 'PATCH', '/api/v1/namespaces/default/pods/nope/status', {}, 'application/merge-patch+json');
    expect(missing.status).toBe(404);
  });
});
