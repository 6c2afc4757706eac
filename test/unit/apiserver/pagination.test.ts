import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

describe('list pagination', () => {
  let server: TestApiServer;
  beforeEach(async () => {
    server = new TestApiServer();
    await server.start();
    for (let i = 0; i < 7; i++) {
      server.create('configmaps', 'default', { metadata: { name: `cm-${i}`, labels: { even: String(i % 2 === 0) } } });
    }
  });
  afterEach(async () => {
    await server.stop();
  });

  const page = (query: string) => call(server, 'GET', `/api/v1/namespaces/default/configmaps?${query}`);

  it('walks every item once through limit and continue', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await page(`limit=3${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((c: any) => c.metadata.name));
      token = r.body.metadata.continue;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6']);
  });

  it('reports remainingItemCount without selectors and pages after filtering with them', async () => {
    const first = await page('limit=2');
    expect(first.body.metadata.remainingItemCount).toBe(5);
    const even = await page('limit=2&labelSelector=even%3Dtrue');
    expect(even.body.items.map((c: any) => c.metadata.name)).toEqual(['cm-0', 'cm-2']);
    expect(even.body.metadata.remainingItemCount).toBeUndefined();
    const rest = await page(`limit=5&labelSelector=even%3Dtrue&continue=${encodeURIComponent(even.body.metadata.continue)}`);
    expect(rest.body.items.map((c: any) => c.metadata.name)).toEqual(['cm-4', 'cm-6']);
    expect(rest.body.metadata.continue).toBeUndefined();
  });

  it('serves later pages from the state of the first', async () => {
    const first = await page('limit=3');
    server.delete('configmaps', 'default', 'cm-5');
    server.create('configmaps', 'default', { metadata: { name: 'cm-9' } });
    const rest = await page(`continue=${encodeURIComponent(first.body.metadata.continue)}`);
    expect(rest.body.items.map((c: any) => c.metadata.name)).toEqual(['cm-3', 'cm-4', 'cm-5', 'cm-6']);
    expect(rest.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
  });

  it('answers 410 Expired for a continue token older than the history, 400 for garbage', async () => {
    const first = await page('limit=3');
    server.create('configmaps', 'default', { metadata: { name: 'later' } });
    server.compact();
    const expired = await page(`continue=${encodeURIComponent(first.body.metadata.continue)}`);
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    const garbage = await page('continue=not-a-token');
    expect(garbage.status).toBe(400);
  });

  it('ignores limit for resourceVersion=0, as the watch cache does', async () => {
    const r = await page('limit=2&resourceVersion=0');
    expect(r.body.items).toHaveLength(7);
    expect(r.body.metadata.continue).toBeUndefined();
  });

  it('lists an exact older version from history and 410s one before it', async () => {
    const before = server.resourceVersion;
    server.delete('configmaps', 'default', 'cm-0');
    const exact = await page(`resourceVersion=${before}&resourceVersionMatch=Exact`);
    expect(exact.body.items).toHaveLength(7);
    expect(exact.body.metadata.resourceVersion).toBe(before);
    const old = await page('resourceVersion=5&resourceVersionMatch=Exact');
    expect(old.status).toBe(410);
    expect(old.body.reason).toBe('Gone');
  });
});
