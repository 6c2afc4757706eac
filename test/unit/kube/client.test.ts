import type { ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../agent/kube/client.js';
import type { CredentialSource, Credentials } from '../../../agent/kube/credentials.js';
import { ApiError, ApiUnavailableError, isAlreadyExists, isGone, WatchStreamError } from '../../../agent/kube/errors.js';
import { resourcePath } from '../../../agent/kube/resource-path.js';
import type { WatchEvent } from '../../../agent/kube/types.js';
import { FakeCollection, FakeHttpServer, sendJson, sendStatus, statusBody, type RecordedRequest } from './fake-server.js';

let server: FakeHttpServer;
let client: KubeClient;
let url: string;

beforeEach(async () => {
  server = new FakeHttpServer();
  url = await server.start();
  client = new KubeClient({ cluster: { server: url, insecureSkipTlsVerify: false }, timeoutMs: 5_000 });
});

afterEach(async () => {
  client.close();
  await server.close();
});

const pods = resourcePath({ version: 'v1', resource: 'pods', namespace: 'default' });

describe('KubeClient requests', () => {
  it('sends JSON with the verb, content type and query, and parses the answer', async () => {
    server.handler = (req, res) => sendJson(res, req.method === 'POST' ? 201 : 200, { echo: req.method, body: req.body ? JSON.parse(req.body) : null });
    expect(await client.create(pods, { metadata: { name: 'a' } }, { query: { fieldManager: 'nodelet' } })).toEqual({
      echo: 'POST',
      body: { metadata: { name: 'a' } },
    });
    await client.update(`${pods}/a`, { metadata: { name: 'a', resourceVersion: '5' } });
    await client.patch(`${pods}/a/status`, { status: { phase: 'Running' } }, 'strategic');
    await client.patch(`${pods}/a`, { metadata: { labels: { x: 'y' } } }, 'merge');
    await client.patch(`${pods}/a`, [{ op: 'remove', path: '/metadata/labels/x' }], 'json');
    const [create, update, strategic, merge, json] = server.requests;
    expect(create?.query.get('fieldManager')).toBe('nodelet');
    expect(create?.headers['content-type']).toBe('application/json');
    expect(create?.headers['accept']).toBe('application/json');
    expect(create?.headers['user-agent']).toMatch(/^nodelet\//);
    expect(update?.method).toBe('PUT');
    expect(strategic?.headers['content-type']).toBe('application/strategic-merge-patch+json');
    expect(strategic?.path).toBe('/api/v1/namespaces/default/pods/a/status');
    expect(merge?.headers['content-type']).toBe('application/merge-patch+json');
    expect(json?.headers['content-type']).toBe('application/json-patch+json');
    expect(JSON.parse(json?.body ?? '')).toEqual([{ op: 'remove', path: '/metadata/labels/x' }]);
  });

  it('sends DeleteOptions with the grace period and the UID precondition', async () => {
    server.handler = (_req, res) => sendJson(res, 200, { kind: 'Status', status: 'Success' });
    await client.delete(`${pods}/a`, { gracePeriodSeconds: 0, preconditions: { uid: 'uid-1' } });
    const req = server.requests[0];
    expect(req?.method).toBe('DELETE');
    expect(JSON.parse(req?.body ?? '')).toEqual({ apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: 'uid-1' } });
  });

  it('keeps the path prefix of the server URL', async () => {
    const prefixed = new KubeClient({ cluster: { server: `${url}/k8s/clusters/c1`, insecureSkipTlsVerify: false } });
    server.handler = (_req, res) => sendJson(res, 200, {});
    await prefixed.get(pods);
    prefixed.close();
    expect(server.requests[0]?.path).toBe('/k8s/clusters/c1/api/v1/namespaces/default/pods');
  });

  it('turns Status answers into ApiError with code and reason', async () => {
    server.handler = (req, res) => {
      if (req.method === 'POST') sendStatus(res, 409, 'AlreadyExists', 'pods "a" already exists');
      else sendStatus(res, 404, 'NotFound', 'pods "a" not found');
    };
    const notFound = await client.get(`${pods}/a`).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(ApiError);
    expect(notFound).toMatchObject({ code: 404, reason: 'NotFound', message: 'GET /api/v1/namespaces/default/pods/a: 404 NotFound: pods "a" not found' });
    const exists = await client.create(pods, {}).catch((e: unknown) => e);
    expect(isAlreadyExists(exists)).toBe(true);
  });

  it('gives answers without a Status the reason of their code and the start of their text', async () => {
    server.handler = (_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('bad gateway from the proxy');
    };
    await expect(client.get(pods)).rejects.toMatchObject({
      code: 502,
      reason: 'InternalError',
      message: expect.stringContaining('bad gateway from the proxy'),
    });
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    let calls = 0;
    server.handler = (_req, res) => {
      if (++calls < 3) sendStatus(res, 429, 'TooManyRequests', 'slow down', { 'Retry-After': '0' });
      else sendJson(res, 200, { ok: true });
    };
    expect(await client.get(pods)).toEqual({ ok: true });
    expect(calls).toBe(3);
  });

  it('returns a plain 500 at once (callers decide on backoff)', async () => {
    server.handler = (_req, res) => sendStatus(res, 500, 'InternalError', 'etcd is sad');
    await expect(client.get(pods)).rejects.toMatchObject({ code: 500, reason: 'InternalError' });
    expect(server.requests).toHaveLength(1);
  });

  it('sends the bearer token and fetches fresh credentials once after a 401', async () => {
    let token = 'old';
    const refused: Credentials[] = [];
    const credentials: CredentialSource = {
      get: async () => ({ token }),
      invalidate: (used) => {
        refused.push(used);
        token = 'new';
        return true;
      },
    };
    const authed = new KubeClient({ cluster: { server: url, insecureSkipTlsVerify: false }, credentials });
    server.handler = (req, res) => {
      if (req.headers.authorization === 'Bearer new') sendJson(res, 200, { ok: true });
      else sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
    };
    try {
      expect(await authed.get(pods)).toEqual({ ok: true });
      expect(refused).toEqual([{ token: 'old' }]);
      expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer old', 'Bearer new']);
      // Still refused after the refresh: the 401 is returned, not retried forever.
      token = 'bad';
      server.handler = (_req, res) => sendStatus(res, 401, 'Unauthorized', 'Unauthorized');
      await expect(authed.get(pods)).rejects.toMatchObject({ code: 401 });
    } finally {
      authed.close();
    }
  });

  it('reports an unreachable server as ApiUnavailableError', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const down = new KubeClient({ cluster: { server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: false } });
    const err = await down.get(pods).catch((e: unknown) => e);
    down.close();
    expect(err).toBeInstanceOf(ApiUnavailableError);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    server.handler = () => {
      /* never answers */
    };
    const err = await client.get(pods, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiUnavailableError);
    expect((err as Error).message).toContain('no complete response within 100 ms');
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    server.handler = () => {
      /* never answers */
    };
    const controller = new AbortController();
    const pending = client.get(pods, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 20);
    await expect(pending).rejects.toThrow('shutting down');
  });

  it('reuses one keep-alive connection for consecutive calls', async () => {
    const ports = new Set<number | undefined>();
    server.handler = (_req: RecordedRequest, res: ServerResponse) => {
      ports.add(res.socket?.remotePort);
      sendJson(res, 200, {});
    };
    for (let i = 0; i < 5; i++) await client.get(pods);
    expect(ports.size).toBe(1);
  });
});

describe('KubeClient.list', () => {
  it('gathers every page into one list with the resourceVersion of the list', async () => {
    const coll = new FakeCollection();
    for (const n of ['a', 'b', 'c', 'd', 'e']) coll.create(n);
    server.handler = coll.handler;
    const result = await client.list<{ kind?: string; apiVersion?: string; metadata: { name: string } }>('/api/v1/namespaces/default/configmaps', {
      limit: 2,
      labelSelector: 'app=x',
    });
    expect(result.items.map((i) => i.metadata.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Items come without kind/apiVersion on the wire; the client fills them in from the list.
    expect(result.items.every((i) => i.kind === 'ConfigMap' && i.apiVersion === 'v1')).toBe(true);
    expect(result.resourceVersion).toBe('105');
    expect(server.requests).toHaveLength(3);
    expect(server.requests.map((r) => r.query.get('limit'))).toEqual(['2', '2', '2']);
    expect(server.requests.every((r) => r.query.get('labelSelector') === 'app=x')).toBe(true);
    expect(server.requests[0]?.query.has('continue')).toBe(false);
    expect(server.requests[1]?.query.has('continue')).toBe(true);
  });

  it('lists again without pagination when a continue token expires', async () => {
    const coll = new FakeCollection();
    for (const n of ['a', 'b', 'c']) coll.create(n);
    let pages = 0;
    server.handler = (req, res) => {
      if (req.query.has('continue') && pages === 1) {
        coll.create('d');
        coll.compact();
      }
      pages++;
      return coll.handler(req, res);
    };
    const result = await client.list<{ metadata: { name: string } }>('/api/v1/namespaces/default/configmaps', { limit: 2 });
    expect(result.items.map((i) => i.metadata.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(result.resourceVersion).toBe('104');
    expect(server.requests.at(-1)?.query.has('limit')).toBe(false);
  });
});

describe('KubeClient.watch', () => {
  const path = '/api/v1/namespaces/default/configmaps';

  async function collect<T>(iterable: AsyncIterable<WatchEvent<T>>): Promise<Array<WatchEvent<T>>> {
    const events: Array<WatchEvent<T>> = [];
    for await (const e of iterable) events.push(e);
    return events;
  }

  it('parses events split anywhere across chunks, multi-byte characters included', async () => {
    const events = [
      { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '11' }, data: { greeting: 'grüß dich ☕' } } },
      { type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '12' } } },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
    ];
    const bytes = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8');
    server.handler = async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // Cut into 7-byte pieces, each written and flushed on its own.
      for (let i = 0; i < bytes.length; i += 7) {
        res.write(bytes.subarray(i, i + 7));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    };
    expect(await collect(client.watch(path, { resourceVersion: '10', fieldSelector: 'metadata.name=a', timeoutSeconds: 300 }))).toEqual(events);
    const q = server.requests[0]?.query;
    expect(q?.get('watch')).toBe('true');
    expect(q?.get('resourceVersion')).toBe('10');
    expect(q?.get('allowWatchBookmarks')).toBe('true');
    expect(q?.get('timeoutSeconds')).toBe('300');
    expect(q?.get('fieldSelector')).toBe('metadata.name=a');
  });

  it('yields an ERROR event with the Status (410 Expired)', async () => {
    const coll = new FakeCollection();
    coll.create('a');
    coll.compact();
    server.handler = coll.handler;
    const events = await collect(client.watch(path, { resourceVersion: '50' }));
    expect(events).toEqual([{ type: 'ERROR', object: statusBody(410, 'Expired', 'too old resource version: 50 (101)') }]);
  });

  it('throws ApiError for a watch refused with HTTP 410', async () => {
    const coll = new FakeCollection();
    coll.create('a');
    coll.compact();
    coll.goneAsHttp = true;
    server.handler = coll.handler;
    const err = await collect(client.watch(path, { resourceVersion: '50' })).catch((e: unknown) => e);
    expect(isGone(err)).toBe(true);
  });

  it('throws WatchStreamError when the connection drops mid-stream', async () => {
    const coll = new FakeCollection();
    server.handler = coll.handler;
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of client.watch<{ metadata: { name: string } }>(path, { resourceVersion: '100' })) {
        if (e.type !== 'ERROR') seen.push(e.object.metadata.name);
      }
    })().catch((e: unknown) => e);
    while (coll.openWatches === 0) await new Promise((r) => setTimeout(r, 5));
    coll.create('a');
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    coll.dropWatches();
    expect(await done).toBeInstanceOf(WatchStreamError);
    expect(seen).toEqual(['a']);
  });

  it('stops at once when the signal aborts, with the reason', async () => {
    const coll = new FakeCollection();
    server.handler = coll.handler;
    const controller = new AbortController();
    const done = collect(client.watch(path, { resourceVersion: '100' }, controller.signal)).catch((e: unknown) => e);
    while (coll.openWatches === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('watchdog'));
    expect(((await done) as Error).message).toBe('watchdog');
  });
});

describe('KubeClient.hasResource', () => {
  it('answers from discovery, caches it, and treats a missing group as absent', async () => {
    server.handler = (req, res) => {
      if (req.path === '/api/v1')
        sendJson(res, 200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'pods' }, { name: 'pods/status' }, { name: 'nodes' }] });
      else sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    };
    expect(await client.hasResource('v1', 'pods')).toBe(true);
    expect(await client.hasResource('v1', 'nodes')).toBe(true);
    expect(await client.hasResource('v1', 'leases')).toBe(false);
    expect(await client.hasResource('coordination.k8s.io/v1', 'leases')).toBe(false);
    expect(await client.hasResource('coordination.k8s.io/v1', 'leases')).toBe(false);
    expect(server.requests.map((r) => r.path)).toEqual(['/api/v1', '/apis/coordination.k8s.io/v1']);
  });

  it('does not cache a failed discovery', async () => {
    let up = false;
    server.handler = (_req, res) =>
      up ? sendJson(res, 200, { resources: [{ name: 'endpointslices' }] }) : sendStatus(res, 503, 'ServiceUnavailable', 'starting');
    await expect(client.hasResource('discovery.k8s.io/v1', 'endpointslices')).rejects.toMatchObject({ code: 503 });
    up = true;
    expect(await client.hasResource('discovery.k8s.io/v1', 'endpointslices')).toBe(true);
  });
});
