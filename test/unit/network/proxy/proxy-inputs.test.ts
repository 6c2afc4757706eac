import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pod } from '../../../../agent/api/types.js';
import { StandaloneProxyInputs } from '../../../../agent/network/proxy/proxy-inputs.js';
import type { ProxyState } from '../../../../agent/network/proxy/service-model.js';
import { PodStateStore } from '../../../../agent/state/pod-state-store.js';

describe('StandaloneProxyInputs', () => {
  let root: string;
  let manifests: string;
  let inputs: StandaloneProxyInputs | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nodelet-proxy-root-'));
    manifests = await mkdtemp(join(tmpdir(), 'nodelet-proxy-manifests-'));
  });
  afterEach(async () => {
    await inputs?.stop();
    await rm(root, { recursive: true, force: true });
    await rm(manifests, { recursive: true, force: true });
  });

  it('builds the model from Service manifests and the Ready local pods, allocating a ClusterIP, skipping a bad Service', async () => {
    await writeFile(
      join(manifests, 'all.yaml'),
      [
        'apiVersion: v1\nkind: Pod\nmetadata: {name: ignored}\nspec: {containers: [{name: c, image: x}]}',
        'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}',
        'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {selector: {app: web}, ports: [{port: 70000}]}',
      ].join('\n---\n'),
    );
    const store = new PodStateStore(root);
    const pod: Pod = {
      metadata: { name: 'web-1', namespace: 'default', uid: 'u1', labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    };
    await store.savePod(pod);
    await store.saveStatus('u1', { phase: 'Running', podIP: '10.88.0.5', podIPs: [{ ip: '10.88.0.5' }], conditions: [{ type: 'Ready', status: 'True' }] });

    const warnings: string[] = [];
    const logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          warnings.push(line);
        },
      },
    );
    inputs = new StandaloneProxyInputs({ manifests, rootDir: root, nodeName: 'n1', serviceCIDR: '10.96.0.0/12', logger, pollMs: 100 });
    const models: Array<ProxyState['services']> = [];
    await inputs.start((m) => models.push(m));
    await expect.poll(() => models.length, { timeout: 5_000 }).toBeGreaterThan(0);
    const model = models.at(-1)!;
    expect([...model.keys()]).toEqual(['default/web/TCP']);
    const web = model.get('default/web/TCP')!;
    expect(web.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    expect(web.endpoints).toEqual([expect.objectContaining({ ip: '10.88.0.5', port: 8080, ready: true, isLocal: true })]);
    expect(warnings.join('')).toContain('spec.ports[0].port');

    // The pod turns not-ready: the model follows without any manifest change.
    await store.saveStatus('u1', { phase: 'Running', podIP: '10.88.0.5', podIPs: [{ ip: '10.88.0.5' }], conditions: [{ type: 'Ready', status: 'False' }] });
    await expect.poll(() => models.at(-1)!.get('default/web/TCP')!.endpoints[0]?.ready, { timeout: 5_000 }).toBe(false);
  });
});
