import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call, WatchStream } from './http-client.js';

const cm = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels } });
const rvOf = (e: { object: any }) => Number(e.object.metadata.resourceVersion);

describe('watch', () => {
  let server: TestApiServer;
  const streams: WatchStream[] = [];
  const watch = async (path: string) => {
    const s = await WatchStream.open(server, path);
    streams.push(s);
    return s;
  };

  beforeEach(async () => {
    server = new TestApiServer({ bookmarkIntervalMs: 50 });
    await server.start();
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await server.stop();
  });

  it('without a resourceVersion sends current objects as ADDED, then live changes', async () => {
    server.create('configmaps', 'default', cm('a'));
    const s = await watch('/api/v1/namespaces/default/configmaps?watch=true');
    await s.waitForEvents(1);
    server.create('configmaps', 'default', cm('b'));
    const events = await s.waitForEvents(2);
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'a'],
      ['ADDED', 'b'],
    ]);
    expect(events[0]!.object.kind).toBe('ConfigMap');
    expect(s.headers.get('transfer-encoding')).toBe('chunked');
    expect(s.headers.get('content-type')).toBe('application/json');
    s.close();
    await expect.poll(() => server.openWatches).toBe(0);
  });

  it('shows a graceful pod deletion as MODIFIED, then the final delete as MODIFIED and DELETED', async () => {
    const pod = server.create<any>('pods', 'default', { metadata: { name: 'p' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i:1' }] } });
    const s = await watch(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${server.resourceVersion}`);
    server.delete('pods', 'default', 'p');
    server.delete('pods', 'default', 'p', { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    const events = await s.waitForEvents(3);
    expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'DELETED']);
    expect(events[0]!.object.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(events[2]!.object.metadata.uid).toBe(pod.metadata.uid);
  });

  it('from a list version replays exactly the later changes, then continues live, with none lost or repeated', async () => {
    server.create('configmaps', 'default', cm('a'));
    server.create('configmaps', 'default', cm('b'));
    const list = await call(server, 'GET', '/api/v1/namespaces/default/configmaps');
    const listRv = Number(list.body.metadata.resourceVersion);
    server.create('configmaps', 'default', cm('c'));
    server.patch('configmaps', 'default', 'a', { data: { x: '1' } });
    server.create('configmaps', 'kube-system', cm('elsewhere'));
    const s = await watch(`/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${listRv}`);
    const middle = await watch(`/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${listRv + 1}`);
    server.delete('configmaps', 'default', 'b');
    server.create('configmaps', 'default', cm('d'));
    const events = await s.waitForEvents(4);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED c', 'MODIFIED a', 'DELETED b', 'ADDED d']);
    const rvs = events.map(rvOf);
    expect(rvs.every((rv, i) => rv > listRv && (i === 0 || rv > rvs[i - 1]!))).toBe(true);
    const fromMiddle = await middle.waitForEvents(3);
    expect(fromMiddle.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['MODIFIED a', 'DELETED b', 'ADDED d']);
    // Nothing more arrives: a new write shows up once, right after the four.
    server.create('configmaps', 'default', cm('e'));
    const all = await s.waitForEvents(5);
    expect(all.map((e) => e.object.metadata.name)).toEqual(['c', 'a', 'b', 'd', 'e']);
  });

  it('turns objects entering or leaving the selection into ADDED and DELETED', async () => {
    server.create('configmaps', 'default', cm('x', { app: 'web' }));
    const s = await watch(`/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion=${server.resourceVersion}`);
    server.patch('configmaps', 'default', 'x', { metadata: { labels: { app: 'db' } } });
    server.patch('configmaps', 'default', 'x', { data: { ignored: 'yes' } });
    server.patch('configmaps', 'default', 'x', { metadata: { labels: { app: 'web' } } });
    const events = await s.waitForEvents(2);
    expect(events.map((e) => e.type)).toEqual(['DELETED', 'ADDED']);
    expect(events[0]!.object.metadata.labels).toEqual({ app: 'web' });
    expect(rvOf(events[0]!)).toBeGreaterThan(0);
    expect(events[1]!.object.data).toEqual({ ignored: 'yes' });
  });

  it('watches pods bound to one node across namespaces by field selector', async () => {
    const s = await watch('/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1');
    server.create('pods', 'kube-system', { metadata: { name: 'other' }, spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'i:1' }] } });
    server.create('pods', 'default', { metadata: { name: 'mine' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i:1' }] } });
    const [e] = await s.waitForEvents(1);
    expect(e!.object.metadata.name).toBe('mine');
    expect(s.events).toHaveLength(1);
  });

  it('sends bookmarks carrying only the current resourceVersion', async () => {
    server.create('configmaps', 'default', cm('a'));
    const s = await watch(`/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${server.resourceVersion}`);
    const [b] = await s.waitForEvents(1, ['BOOKMARK']);
    expect(b!.object).toEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: server.resourceVersion } });
  });

  it('ends the stream normally after timeoutSeconds', async () => {
    const s = await watch('/api/v1/configmaps?watch=true&timeoutSeconds=1');
    expect(await s.finished).toBe('end');
    expect(server.openWatches).toBe(0);
  });

  it('answers a watch from a compacted version with one 410 ERROR event and closes', async () => {
    const old = server.resourceVersion;
    server.create('configmaps', 'default', cm('a'));
    server.compact();
    const s = await watch(`/api/v1/configmaps?watch=true&resourceVersion=${old}`);
    expect(await s.finished).toBe('end');
    expect(s.events).toHaveLength(1);
    expect(s.events[0]!.type).toBe('ERROR');
    expect(s.events[0]!.object).toMatchObject({ kind: 'Status', status: 'Failure', code: 410, reason: 'Expired' });
    // The current version is still watchable after compaction.
    const fresh = await watch(`/api/v1/configmaps?watch=true&resourceVersion=${server.resourceVersion}`);
    server.create('configmaps', 'default', cm('b'));
    expect((await fresh.waitForEvents(1))[0]!.type).toBe('ADDED');
  });

  it('expires versions that fell out of the bounded history window', async () => {
    const small = new TestApiServer({ historyWindow: 3 });
    await small.start();
    try {
      const start = small.resourceVersion;
      for (let i = 0; i < 5; i++) small.create('configmaps', 'default', cm(`c${i}`));
      const s = await WatchStream.open(small, `/api/v1/configmaps?watch=true&resourceVersion=${start}`);
      expect(await s.finished).toBe('end');
      expect(s.events[0]!.object.code).toBe(410);
      const recent = await WatchStream.open(small, `/api/v1/configmaps?watch=true&resourceVersion=${Number(small.resourceVersion) - 2}`);
      expect((await recent.waitForEvents(2)).map((e) => e.object.metadata.name)).toEqual(['c3', 'c4']);
      recent.close();
    } finally {
      await small.stop();
    }
  });

  it('dropWatches cuts streams abruptly; endWatches closes them normally', async () => {
    const a = await watch('/api/v1/configmaps?watch=true');
    const b = await watch('/api/v1/pods?watch=true');
    await expect.poll(() => server.openWatches).toBe(2);
    server.dropWatches();
    expect(await a.finished).toBe('error');
    expect(await b.finished).toBe('error');
    const c = await watch('/api/v1/configmaps?watch=true');
    await expect.poll(() => server.openWatches).toBe(1);
    server.endWatches();
    expect(await c.finished).toBe('end');
  });

  it('goDown refuses connections; comeBack serves the same objects and history on the same port', async () => {
    const url = server.url;
    server.create('configmaps', 'default', cm('kept'));
    const before = server.resourceVersion;
    const s = await watch('/api/v1/configmaps?watch=true');
    await s.waitForEvents(1);
    await server.goDown();
    expect(await s.finished).toBe('error');
    const refused = await fetch(`${url}/version`).then(
      () => 'connected',
      (e: any) => e.cause?.code ?? String(e),
    );
    expect(refused).toBe('ECONNREFUSED');
    server.create('configmaps', 'default', cm('while-down'));
    expect(await server.comeBack()).toBe(url);
    const got = await call(server, 'GET', '/api/v1/namespaces/default/configmaps/kept');
    expect(got.status).toBe(200);
    const resumed = await watch(`/api/v1/configmaps?watch=true&resourceVersion=${before}`);
    expect((await resumed.waitForEvents(1))[0]!.object.metadata.name).toBe('while-down');
  });
});
