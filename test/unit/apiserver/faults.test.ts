import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

describe('fault injection and the request log', () => {
  let server: TestApiServer;
  beforeEach(async () => {
    server = new TestApiServer();
    await server.start();
    server.create('pods', 'default', { metadata: { name: 'p' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i:1' }] } });
  });
  afterEach(async () => {
    await server.stop();
  });

  it('fails the next N matching requests with the given status, then serves again', async () => {
    server.failNext(2, { status: 503, verb: 'get' });
    const list = await call(server, 'GET', '/api/v1/pods');
    expect(list.status).toBe(200);
    const a = await call(server, 'GET', '/api/v1/namespaces/default/pods/p');
    const b = await call(server, 'GET', '/api/v1/namespaces/default/pods/p');
    const c = await call(server, 'GET', '/api/v1/namespaces/default/pods/p');
    expect([a.status, b.status, c.status]).toEqual([503, 503, 200]);
    expect(a.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
  });

  it('matches by path and HTTP method, and sends Retry-After with 429', async () => {
    server.failNext(1, { status: 429, path: /\/status$/, verb: 'PATCH' });
    const other = await call(server, 'PATCH', '/api/v1/namespaces/default/pods/p', { metadata: { labels: { a: 'b' } } }, 'application/merge-patch+json');
    expect(other.status).toBe(200);
    const limited = await call(server, 'PATCH', '/api/v1/namespaces/default/pods/p/status', { status: { phase: 'Running' } }, 'application/merge-patch+json');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body.reason).toBe('TooManyRequests');
    expect(server.get<any>('pods', 'default', 'p').status.phase).toBe('Pending');
    server.failNext(1, { status: 500 });
    expect((await call(server, 'GET', '/version')).body.reason).toBe('InternalError');
  });

  it('serves requests after the configured latency', async () => {
    server.setLatency(30);
    const r = await call(server, 'GET', '/api/v1/namespaces/default/pods/p');
    expect(r.status).toBe(200);
    server.clearFaults();
    expect((await call(server, 'GET', '/api/v1/namespaces/default/pods/p')).status).toBe(200);
  });

  it('logs requests with verb, resource and content type so tests can count status patches', async () => {
    server.clearRequests();
    const patch = (body: unknown) =>
      call(server, 'PATCH', '/api/v1/namespaces/default/pods/p/status', body, 'application/strategic-merge-patch+json; charset=utf-8');
    await patch({ status: { phase: 'Running' } });
    await patch({ status: { podIP: '10.0.0.2' } });
    await call(server, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1');
    expect(server.countRequests({ verb: 'patch', resource: 'pods', subresource: 'status' })).toBe(2);
    expect(server.countRequests({ contentType: 'application/strategic-merge-patch+json' })).toBe(2);
    expect(server.countRequests({ verb: 'list' })).toBe(1);
    expect(server.countRequests((r) => r.query.fieldSelector === 'spec.nodeName=n1')).toBe(1);
    expect(server.requests[0]).toMatchObject({
      method: 'PATCH',
      path: '/api/v1/namespaces/default/pods/p/status',
      namespace: 'default',
      name: 'p',
      status: 200,
    });
    expect(server.requests[0]!.time).toBeInstanceOf(Date);
  });
});
