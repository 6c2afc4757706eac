import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../support/apiserver/resources.js';
import { fieldValue, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../support/apiserver/selectors.js';
import { ApiError } from '../../support/apiserver/errors.js';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

const pods = RESOURCES.find((r) => r.plural === 'pods')!;

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', version: '3' };
  const match = (s: string, l: Record<string, string> = labels) => matchesLabels(parseLabelSelector(s), l);

  it('matches equality, inequality and existence', () => {
    expect(match('app=web')).toBe(true);
    expect(match('app==web')).toBe(true);
    expect(match('app!=web')).toBe(false);
    expect(match('missing!=x')).toBe(true);
    expect(match('tier')).toBe(true);
    expect(match('!tier')).toBe(false);
    expect(match('!missing')).toBe(true);
    expect(match('app=web,tier=back')).toBe(false);
    expect(match('')).toBe(true);
  });

  it('matches set-based requirements', () => {
    expect(match('tier in (front, back)')).toBe(true);
    expect(match('tier notin (front)')).toBe(false);
    expect(match('missing notin (a)')).toBe(true);
    expect(match('missing in (a)')).toBe(false);
    expect(match('app in (web),tier notin (back),version')).toBe(true);
    expect(match('version>2')).toBe(true);
    expect(match('version<3')).toBe(false);
  });

  it('refuses bad syntax with a 400', () => {
    expect(match('app=', { app: '' })).toBe(true);
    for (const bad of ['app in web', 'a b', '=x', 'app in ()', 'bad key!=x', 'app=-x-']) {
      let err: unknown;
      try {
        parseLabelSelector(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe(400);
    }
  });
});

describe('field selectors', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };

  it('matches supported fields with =, == and !=', () => {
    expect(matchesFields(parseFieldSelector('spec.nodeName=n1', pods), pod)).toBe(true);
    expect(matchesFields(parseFieldSelector('spec.nodeName==n2', pods), pod)).toBe(false);
    expect(matchesFields(parseFieldSelector('status.phase!=Failed,metadata.namespace=ns', pods), pod)).toBe(true);
    expect(matchesFields(parseFieldSelector('metadata.name=p,status.phase!=Running', pods), pod)).toBe(false);
  });

  it('treats a missing field as empty and booleans as text', () => {
    expect(matchesFields(parseFieldSelector('spec.nodeName=', pods), { metadata: {}, spec: {} })).toBe(true);
    expect(fieldValue({ spec: {} }, 'spec.hostNetwork')).toBe('false');
    expect(fieldValue({ spec: { hostNetwork: true } }, 'spec.hostNetwork')).toBe('true');
  });

  it('refuses a field the resource does not index', () => {
    expect(() => parseFieldSelector('spec.containers=x', pods)).toThrow(/field label not supported: spec.containers/);
  });
});

describe('selectors over HTTP', () => {
  const server = new TestApiServer();
  beforeAll(async () => {
    await server.start();
    const mk = (name: string, node: string, labels: Record<string, string>) =>
      server.create('pods', 'default', {
        metadata: { name, labels },
        spec: { nodeName: node, containers: [{ name: 'c', image: 'i:1' }] },
      });
    mk('a', 'n1', { app: 'web' });
    mk('b', 'n1', { app: 'db' });
    mk('c', 'n2', { app: 'web' });
  });
  afterAll(async () => {
    await server.stop();
  });

  const names = async (query: string) => {
    const r = await call(server, 'GET', `/api/v1/pods?${query}`);
    expect(r.status).toBe(200);
    return r.body.items.map((p: any) => p.metadata.name);
  };

  it('filters lists by label and field selectors together', async () => {
    expect(await names('fieldSelector=spec.nodeName%3Dn1')).toEqual(['a', 'b']);
    expect(await names('labelSelector=app%3Dweb')).toEqual(['a', 'c']);
    expect(await names('labelSelector=app%20in%20(web)&fieldSelector=spec.nodeName%3Dn1')).toEqual(['a']);
    expect(await names('labelSelector=app!%3Dweb')).toEqual(['b']);
  });

  it('answers 400 for an unsupported field', async () => {
    const r = await call(server, 'GET', '/api/v1/pods?fieldSelector=spec.foo%3Dx');
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('BadRequest');
  });
});
