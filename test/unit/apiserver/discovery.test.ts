import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TestApiServer } from '../../support/apiserver/server.js';
import { call } from './http-client.js';

describe('discovery', () => {
  let server: TestApiServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('describes core, groups, resources with scope and status subresources, and the version', async () => {
    server = new TestApiServer();
    await server.start();
    const api = await call(server, 'GET', '/api');
    expect(api.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const core = await call(server, 'GET', '/api/v1');
    expect(core.body.kind).toBe('APIResourceList');
    const byName = new Map(core.body.resources.map((r: any) => [r.name, r]));
    expect(byName.get('pods')).toMatchObject({ namespaced: true, kind: 'Pod', verbs: expect.arrayContaining(['watch', 'patch']) });
    expect(byName.get('nodes')).toMatchObject({ namespaced: false, kind: 'Node' });
    expect(byName.get('namespaces')).toMatchObject({ namespaced: false });
    expect(byName.has('pods/status')).toBe(true);
    expect(byName.has('configmaps/status')).toBe(false);
    const groups = await call(server, 'GET', '/apis');
    expect(groups.body.groups.map((g: any) => g.name)).toEqual(['coordination.k8s.io', 'discovery.k8s.io']);
    const leases = await call(server, 'GET', '/apis/coordination.k8s.io/v1');
    expect(leases.body).toMatchObject({ groupVersion: 'coordination.k8s.io/v1', resources: [{ name: 'leases', namespaced: true, kind: 'Lease' }] });
    const version = await call(server, 'GET', '/version');
    expect(version.body).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\./) });
  });

  it('hides a disabled group from discovery and answers 404 on its paths', async () => {
    server = new TestApiServer({ disabledGroups: ['coordination.k8s.io'] });
    await server.start();
    const groups = await call(server, 'GET', '/apis');
    expect(groups.body.groups.map((g: any) => g.name)).toEqual(['discovery.k8s.io']);
    expect((await call(server, 'GET', '/apis/coordination.k8s.io/v1')).status).toBe(404);
    const create = await call(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { metadata: { name: 'n' } });
    expect(create.status).toBe(404);
    expect(create.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    expect(() => server!.create('leases', 'kube-node-lease', { metadata: { name: 'n' } })).toThrow(/not served/);
  });

  it('writes a kubeconfig that points at the server with the token', async () => {
    server = new TestApiServer({ token: 't0k3n' });
    await server.start();
    const dir = await mkdtemp(join(tmpdir(), 'apiserver-kubeconfig-'));
    try {
      const path = await server.kubeconfig(join(dir, 'kubeconfig'));
      const cfg = parse(await readFile(path, 'utf8'));
      const ctx = cfg.contexts.find((c: any) => c.name === cfg['current-context']).context;
      expect(cfg.clusters.find((c: any) => c.name === ctx.cluster).cluster.server).toBe(server.url);
      expect(cfg.users.find((u: any) => u.name === ctx.user).user.token).toBe('t0k3n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
