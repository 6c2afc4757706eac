import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decideDeletion } from '../../support/apiserver/graceful-delete.js';
import { TestApiServer, type StoreChange } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

const NOW = new Date('2024-05-01T10:00:00Z');

describe('decideDeletion', () => {
  const bound = { metadata: {}, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 45 }, status: { phase: 'Running' } };

  it('marks a bound running pod with its own grace period unless told otherwise', () => {
    expect(decideDeletion(bound, true, undefined, NOW)).toEqual({ action: 'mark', deletionTimestamp: '2024-05-01T10:00:45Z', deletionGracePeriodSeconds: 45 });
    expect(decideDeletion(bound, true, 5, NOW)).toMatchObject({ deletionGracePeriodSeconds: 5 });
    expect(decideDeletion({ metadata: {}, spec: { nodeName: 'n1' } }, true, undefined, NOW)).toMatchObject({ deletionGracePeriodSeconds: 30 });
  });

  it('uses no grace for unscheduled or terminated pods', () => {
    expect(decideDeletion({ metadata: {}, spec: {} }, true, 30, NOW)).toMatchObject({ action: 'mark', deletionGracePeriodSeconds: 0 });
    expect(decideDeletion({ ...bound, status: { phase: 'Succeeded' } }, true, undefined, NOW)).toMatchObject({ deletionGracePeriodSeconds: 0 });
  });

  it('only shortens a pending deletion, counting from the first request', () => {
    const marked = { ...bound, metadata: { deletionTimestamp: '2024-05-01T10:00:45Z', deletionGracePeriodSeconds: 45 } };
    expect(decideDeletion(marked, true, undefined, NOW)).toEqual({ action: 'pending' });
    expect(decideDeletion(marked, true, 60, NOW)).toEqual({ action: 'pending' });
    expect(decideDeletion(marked, true, 10, NOW)).toEqual({ action: 'mark', deletionTimestamp: '2024-05-01T10:00:10Z', deletionGracePeriodSeconds: 10 });
    expect(decideDeletion(marked, true, 0, NOW)).toMatchObject({ deletionGracePeriodSeconds: 0 });
  });

  it('removes other kinds at once', () => {
    expect(decideDeletion({ metadata: {} }, false, 30, NOW)).toEqual({ action: 'remove' });
  });
});

describe('DELETE over HTTP', () => {
  let server: TestApiServer;
  let changes: StoreChange[];
  beforeEach(async () => {
    server = new TestApiServer({ now: () => NOW });
    await server.start();
    changes = [];
    server.onChange((c) => changes.push(c));
  });
  afterEach(async () => {
    await server.stop();
  });

  const mkPod = (name: string, nodeName?: string) =>
    server.create<any>('pods', 'default', {
      metadata: { name },
      spec: { ...(nodeName ? { nodeName } : {}), terminationGracePeriodSeconds: 20, containers: [{ name: 'c', image: 'i:1' }] },
    });
  const del = (name: string, body?: unknown, query = '') => call(server, 'DELETE', `/api/v1/namespaces/default/pods/${name}${query}`, body);

  it('marks a bound pod, then the final delete with the uid precondition removes it', async () => {
    const pod = mkPod('p', 'n1');
    changes.length = 0;
    const first = await del('p');
    expect(first.status).toBe(200);
    expect(first.body.metadata.deletionTimestamp).toBe('2024-05-01T10:00:20Z');
    expect(first.body.metadata.deletionGracePeriodSeconds).toBe(20);
    expect(server.find('pods', 'default', 'p')).toBeDefined();
    expect(changes.map((c) => c.type)).toEqual(['MODIFIED']);

    const wrong = await del('p', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, preconditions: { uid: 'not-the-uid' } });
    expect(wrong.status).toBe(409);
    expect(wrong.body.message).toContain('Precondition failed: UID in precondition: not-the-uid');
    expect(server.find('pods', 'default', 'p')).toBeDefined();

    const final = await del('p', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    expect(final.status).toBe(200);
    expect(server.find('pods', 'default', 'p')).toBeUndefined();
    // As the real registry: the zero-grace mark is written, then the object removed.
    expect(changes.map((c) => c.type)).toEqual(['MODIFIED', 'MODIFIED', 'DELETED']);
    expect(changes[2]!.object.metadata.deletionGracePeriodSeconds).toBe(0);
    expect((await call(server, 'GET', '/api/v1/namespaces/default/pods/p')).status).toBe(404);
  });

  it('a repeated delete with no shorter grace changes nothing', async () => {
    mkPod('p', 'n1');
    await del('p');
    const rv = server.resourceVersion;
    const again = await del('p');
    expect(again.status).toBe(200);
    expect(server.resourceVersion).toBe(rv);
  });

  it('takes gracePeriodSeconds from the query when there is no body', async () => {
    mkPod('p', 'n1');
    await del('p', undefined, '?gracePeriodSeconds=0');
    expect(server.find('pods', 'default', 'p')).toBeUndefined();
  });

  it('removes an unscheduled pod and other kinds at once', async () => {
    mkPod('p');
    await del('p');
    expect(server.find('pods', 'default', 'p')).toBeUndefined();
    server.create('configmaps', 'default', { metadata: { name: 'cm' } });
    const r = await call(server, 'DELETE', '/api/v1/namespaces/default/configmaps/cm');
    expect(r.status).toBe(200);
    expect(server.find('configmaps', 'default', 'cm')).toBeUndefined();
    expect(changes.at(-1)!.type).toBe('DELETED');
  });

  it('answers 404 for a missing object and 405 for a collection delete', async () => {
    expect((await del('nope')).status).toBe(404);
    expect((await call(server, 'DELETE', '/api/v1/namespaces/default/pods')).status).toBe(405);
  });
});
