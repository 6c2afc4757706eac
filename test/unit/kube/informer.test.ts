import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../agent/kube/client.js';
import { Informer, type InformerOptions } from '../../../agent/kube/informer.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { eventually, FakeCollection, FakeHttpServer, type FakeObject } from './fake-server.js';

interface LogLine {
  level: number;
  msg: string;
  delayMs?: number;
  reason?: string;
}

let server: FakeHttpServer;
let coll: FakeCollection;
let client: KubeClient;
let informer: Informer<FakeObject> | undefined;
let logs: LogLine[];
let events: string[];

const rv = (o: FakeObject) => o.metadata.resourceVersion;
const handlers = {
  onAdd: (o: FakeObject) => {
    events.push(`add ${o.metadata.name}@${rv(o)}`);
  },
  onUpdate: (old: FakeObject, o: FakeObject) => {
    events.push(`update ${o.metadata.name} ${rv(old)}->${rv(o)}`);
  },
  onDelete: (o: FakeObject, info: { finalStateUnknown: boolean }) => {
    events.push(`delete ${o.metadata.name}@${rv(o)}${info.finalStateUnknown ? ' (unknown)' : ''}`);
  },
};

const watches = () => server.requests.filter((r) => r.query.get('watch') === 'true');
const lists = () => server.requests.filter((r) => r.query.get('watch') !== 'true');

function makeInformer(options: Partial<InformerOptions<FakeObject>> = {}): Informer<FakeObject> {
  const logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        logs.push(JSON.parse(line) as LogLine);
      },
    },
  );
  informer = new Informer<FakeObject>({
    client,
    path: { version: 'v1', resource: 'configmaps', namespace: 'default' },
    logger,
    handlers,
    backoff: { initialMs: 10, maxMs: 25, jitter: 0 },
    ...options,
  });
  return informer;
}

async function startSynced(options: Partial<InformerOptions<FakeObject>> = {}): Promise<Informer<FakeObject>> {
  const inf = makeInformer(options);
  inf.start();
  await inf.waitForSync();
  await eventually('the watch is open', () => coll.openWatches === 1);
  return inf;
}

beforeEach(async () => {
  server = new FakeHttpServer();
  coll = new FakeCollection();
  server.handler = coll.handler;
  client = new KubeClient({ cluster: { server: await server.start(), insecureSkipTlsVerify: false }, timeoutMs: 5_000 });
  logs = [];
  events = [];
  informer = undefined;
});

afterEach(async () => {
  await informer?.stop();
  client.close();
  await server.close();
});

describe('Informer: list then watch', () => {
  it('delivers the list, then watch events, into the cache and the handlers', async () => {
    coll.create('a');
    coll.create('b');
    const inf = await startSynced({ fieldSelector: 'metadata.name!=z', labelSelector: 'app=web' });
    expect(inf.hasSynced()).toBe(true);
    expect(events).toEqual(['add a@101', 'add b@102']);

    coll.create('c');
    coll.update('a', { k: 'v' });
    coll.delete('b');
    await eventually('three more events', () => events.length === 5);
    expect(events.slice(2)).toEqual(['add c@103', 'update a 101->104', 'delete b@105']);
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(inf.get('default/a')?.data).toEqual({ k: 'v' });
    expect(inf.get('default/b')).toBeUndefined();
    expect(inf.resourceVersion).toBe('105');

    const watch = watches()[0]?.query;
    expect(watch?.get('resourceVersion')).toBe('102');
    expect(watch?.get('allowWatchBookmarks')).toBe('true');
    expect(watch?.get('fieldSelector')).toBe('metadata.name!=z');
    expect(watch?.get('labelSelector')).toBe('app=web');
    const timeout = Number(watch?.get('timeoutSeconds'));
    expect(timeout).toBeGreaterThanOrEqual(300);
    expect(timeout).toBeLessThan(600);
    expect(lists()[0]?.query.get('limit')).toBe('500');
  });

  it('re-watches from the last resourceVersion after a dropped connection, without duplicates', async () => {
    coll.create('a');
    const inf = await startSynced();
    coll.create('b');
    await eventually('b arrives', () => events.length === 2);

    // c happens while the connection is dying: only the next watch can bring it.
    coll.quiet = true;
    coll.create('c');
    coll.quiet = false;
    coll.dropWatches();
    await eventually('c arrives', () => events.length === 3);

    expect(events).toEqual(['add a@101', 'add b@102', 'add c@103']);
    expect(watches().map((w) => w.query.get('resourceVersion'))).toEqual(['101', '102']);
    expect(lists()).toHaveLength(1);
    expect(inf.list()).toHaveLength(3);
  });

  for (const variant of ['an ERROR event', 'HTTP 410'] as const) {
    it(`re-lists on 410 (${variant}): deletions while away become onDelete, unchanged objects stay silent`, async () => {
      coll.goneAsHttp = variant === 'HTTP 410';
      for (const n of ['a', 'b', 'c']) coll.create(n);
      const inf = await startSynced();
      expect(events).toEqual(['add a@101', 'add b@102', 'add c@103']);

      coll.quiet = true;
      coll.delete('c');
      coll.update('b', { changed: 'yes' });
      coll.create('d');
      coll.compact();
      coll.quiet = false;
      coll.dropWatches();

      await eventually('the re-list is delivered', () => events.length === 6);
      expect(events.slice(3)).toEqual(['delete c@103 (unknown)', 'update b 102->105', 'add d@106']);
      expect(lists()).toHaveLength(2);
      await eventually('watching again', () => coll.openWatches === 1);
      expect(watches().map((w) => w.query.get('resourceVersion'))).toEqual(['103', '103', '106']);
      expect(
        inf
          .list()
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual(['a', 'b', 'd']);
      expect(logs.some((l) => l.msg === 'watch expired (410); re-listing')).toBe(true);
    });
  }

  it('reports an object re-created under the same name while away as a delete and an add', async () => {
    coll.create('a');
    await startSynced();
    coll.quiet = true;
    coll.delete('a');
    coll.create('a');
    coll.compact();
    coll.quiet = false;
    coll.dropWatches();
    await eventually('the re-list is delivered', () => events.length === 3);
    expect(events).toEqual(['add a@101', 'delete a@101 (unknown)', 'add a@103']);
  });

  it('moves its resourceVersion with bookmarks and re-watches from there after a clean close', async () => {
    coll.create('a');
    const inf = await startSynced();
    coll.advance(10);
    coll.bookmark();
    await eventually('the bookmark is seen', () => inf.resourceVersion === '111');
    coll.closeWatches();
    await eventually('a second watch', () => watches().length === 2);
    expect(watches()[1]?.query.get('resourceVersion')).toBe('111');
    expect(events).toEqual(['add a@101']);
    expect(lists()).toHaveLength(1);
  });

  it('backs off exponentially, capped, while lists fail with 500', async () => {
    coll.create('a');
    coll.failLists = [500, 500, 500, 500];
    const inf = makeInformer({ random: () => 0 });
    inf.start();
    await inf.waitForSync();
    expect(lists()).toHaveLength(5);
    expect(logs.filter((l) => l.msg === 'backing off').map((l) => l.delayMs)).toEqual([10, 20, 25, 25]);
    expect(events).toEqual(['add a@101']);
  });

  it('re-lists after backoff when a watch request fails, and resets the backoff once events flow', async () => {
    coll.create('a');
    coll.failWatches = [500, 500];
    const inf = makeInformer({ random: () => 0 });
    inf.start();
    await inf.waitForSync();
    await eventually('the watch is open', () => coll.openWatches === 1);
    expect(lists()).toHaveLength(3);
    expect(logs.filter((l) => l.msg === 'backing off').map((l) => l.delayMs)).toEqual([10, 20]);
    expect(events).toEqual(['add a@101']);

    coll.create('b');
    await eventually('b arrives', () => events.length === 2);
    coll.failWatches = [500];
    coll.dropWatches();
    await eventually('watching again', () => watches().length === 5 && coll.openWatches === 1);
    expect(logs.filter((l) => l.msg === 'backing off').map((l) => l.delayMs)).toEqual([10, 20, 10]);
    expect(events).toEqual(['add a@101', 'add b@102']);
  });

  it('restarts a watch that stays silent past the watchdog, from the same version', async () => {
    coll.create('a');
    await startSynced({ watchdogMs: 100 });
    await eventually('a second watch', () => watches().length >= 2);
    expect(watches()[1]?.query.get('resourceVersion')).toBe('101');
    expect(lists()).toHaveLength(1);
    expect(logs.some((l) => l.msg.startsWith('watch silent for too long'))).toBe(true);
  });
});

describe('Informer: handlers, resync, stop', () => {
  it('keeps delivering when a handler throws or rejects', async () => {
    coll.create('a');
    const inf = makeInformer();
    inf.addHandlers({
      onAdd: () => {
        throw new Error('boom');
      },
    });
    inf.addHandlers({ onAdd: () => Promise.reject(new Error('async boom')) });
    inf.start();
    await inf.waitForSync();
    await eventually('the watch is open', () => coll.openWatches === 1);
    coll.create('b');
    await eventually('b arrives', () => events.length === 2);
    expect(events).toEqual(['add a@101', 'add b@102']);
    await eventually('both failures logged', () => logs.filter((l) => l.msg === 'informer handler failed').length === 4);
  });

  it('gives late handlers an add for every cached object, and unsubscribes', async () => {
    coll.create('a');
    coll.create('b');
    const inf = await startSynced();
    const late: string[] = [];
    const remove = inf.addHandlers({
      onAdd: (o) => {
        late.push(o.metadata.name);
      },
    });
    expect(late.sort()).toEqual(['a', 'b']);
    remove();
    coll.create('c');
    await eventually('c arrives', () => events.length === 3);
    expect(late.sort()).toEqual(['a', 'b']);
  });

  it('re-delivers every cached object as an update on each resync period', async () => {
    const clock = new FakeClock();
    coll.create('a');
    await startSynced({ clock, resyncPeriodMs: 60_000 });
    clock.advance(59_999);
    expect(events).toEqual(['add a@101']);
    clock.advance(1);
    expect(events).toEqual(['add a@101', 'update a 101->101']);
    clock.advance(60_000);
    expect(events).toEqual(['add a@101', 'update a 101->101', 'update a 101->101']);
  });

  it('re-lists periodically when asked to, without events for unchanged objects', async () => {
    const clock = new FakeClock();
    coll.create('a');
    await startSynced({ clock, relistPeriodMs: 600_000 });
    clock.advance(600_000);
    await eventually('a second list', () => lists().length === 2);
    await eventually('watching again', () => coll.openWatches === 1 && watches().length === 2);
    expect(events).toEqual(['add a@101']);
  });

  it('stop() closes the watch; waitForSync rejects when stopped before the first list', async () => {
    coll.create('a');
    const inf = await startSynced();
    await inf.stop();
    await eventually('the watch is closed', () => coll.openWatches === 0);

    coll.failLists = [500, 500, 500, 500, 500, 500];
    const never = makeInformer();
    never.start();
    const waiting = never.waitForSync();
    await never.stop();
    await expect(waiting).rejects.toThrow('informer stopped before its first list');
  });
});
