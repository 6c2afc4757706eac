// nodelet joined to a Kubernetes-compatible apiserver (the in-memory test server)
// with real Docker: registration and Lease, pods from the API running with their
// status reported, graceful deletion to the final DELETE, mirror pods, admission,
// and an apiserver outage and a 410 re-list that churn no container.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { BUSYBOX, nodeContainers, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';
import type { Pod } from '../../../agent/api/types.js';
import { until } from '../../support/wait.js';

describe('joined to an apiserver', () => {
  let api: TestApiServer;
  let node: TestAgent;
  let dir: string;
  let nodeName: string;

  const apiPod = (name: string, spec: Record<string, unknown>) =>
    api.create<Pod>('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName, ...spec } });
  const getPod = (name: string) => api.find<Pod>('pods', 'default', name);
  const containerIds = async (podName: string) =>
    (await nodeContainers(nodeName))
      .filter((c) => c.Labels['io.kubernetes.pod.name'] === podName)
      .map((c) => c.Id)
      .sort();

  beforeAll(async () => {
    api = new TestApiServer({ token: 'node-token', bookmarkIntervalMs: 1000 });
    await api.start();
    dir = await mkdtemp(join(tmpdir(), 'nodelet-join-'));
    const kubeconfig = await api.kubeconfig(join(dir, 'kubeconfig'));
    node = await startTestAgent({
      kubeconfig,
      nodeLeaseDurationSeconds: 4,
      nodeStatusUpdateFrequencyMs: 1000,
      nodeLabels: { 'example.com/role': 'test' },
    });
    nodeName = node.config.nodeName;
  });
  afterAll(async () => {
    await node?.cleanup();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers its Node with capacity, nodeInfo and conditions, and renews its Lease', async () => {
    const n = await until('node registered', () => api.find<Record<string, any>>('nodes', undefined, nodeName));
    expect(n.metadata.labels['kubernetes.io/hostname']).toBe(nodeName);
    expect(n.metadata.labels['kubernetes.io/os']).toBe('linux');
    expect(n.metadata.labels['example.com/role']).toBe('test');
    expect(n.status.capacity.pods).toBe('110');
    expect(n.status.capacity.cpu).toBeDefined();
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^docker:\/\//);
    expect(n.status.nodeInfo.kubeletVersion).toMatch(/^nodelet\//);
    const ready = await until('Ready=True', () => {
      const c = api.find<Record<string, any>>('nodes', undefined, nodeName)?.status?.conditions?.find((x: any) => x.type === 'Ready');
      return c?.status === 'True' ? c : undefined;
    });
    expect(ready.reason).toBe('KubeletReady');
    const lease1 = await until('lease', () => api.find<Record<string, any>>('leases', 'kube-node-lease', nodeName));
    expect(lease1.spec.holderIdentity).toBe(nodeName);
    expect(lease1.metadata.ownerReferences[0].kind).toBe('Node');
    await until('lease renewed', () => api.find<Record<string, any>>('leases', 'kube-node-lease', nodeName)?.spec.renewTime !== lease1.spec.renewTime);
  });

  it('runs a pod bound to this node and reports its status to the apiserver', async () => {
    apiPod('api-web', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] });
    const pod = await until('pod Running in the API', () => {
      const p = getPod('api-web');
      return p?.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready ? p : undefined;
    });
    expect(pod.status?.podIP).toMatch(/^10\./);
    expect(pod.status?.containerStatuses?.[0]?.containerID).toMatch(/^docker:\/\//);
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const patches = api.countRequests({ verb: 'patch', resource: 'pods', subresource: 'status', name: 'api-web' });
    expect(patches).toBeLessThanOrEqual(4);
  });

  it('deletes gracefully: containers stopped, then the pod object is gone', async () => {
    apiPod('api-gone', { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] });
    await until('running', () => getPod('api-gone')?.status?.phase === 'Running');
    api.delete('pods', 'default', 'api-gone');
    expect(getPod('api-gone')?.metadata.deletionTimestamp).toBeDefined();
    await until('pod object removed', () => getPod('api-gone') === undefined);
    expect(await containerIds('api-gone')).toEqual([]);
  });

  it('creates a mirror pod for a static pod and reports its status there', async () => {
    await node.writeManifest('static.yaml', [podManifest('static-web', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] })]);
    const mirror = await until('mirror pod Running', () => {
      const p = getPod(node.staticName('static-web'));
      return p?.status?.phase === 'Running' ? p : undefined;
    });
    expect(mirror.metadata.annotations?.['kubernetes.io/config.mirror']).toBeDefined();
    expect(mirror.spec.nodeName).toBe(nodeName);
  });

  it('refuses a pod that does not fit with OutOfcpu, starting nothing', async () => {
    apiPod('api-huge', { containers: [{ name: 'main', image: BUSYBOX, resources: { requests: { cpu: '500' } } }] });
    const p = await until('refused', () => (getPod('api-huge')?.status?.phase === 'Failed' ? getPod('api-huge') : undefined));
    expect(p.status?.reason).toBe('OutOfcpu');
    expect(await containerIds('api-huge')).toEqual([]);
  });

  it('survives a watch answered with 410 by re-listing, without churning containers', async () => {
    const before = await containerIds('api-web');
    api.compact();
    api.dropWatches();
    apiPod('api-after-410', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] });
    await until('new pod after the re-list runs', () => getPod('api-after-410')?.status?.phase === 'Running');
    expect(await containerIds('api-web')).toEqual(before);
  });

  it('keeps pods running through an apiserver outage and applies what changed meanwhile', async () => {
    const before = await containerIds('api-web');
    await api.goDown();
    // While the server is away: one pod deleted, one created (straight into its store).
    api.delete('pods', 'default', 'api-after-410', { gracePeriodSeconds: 2 });
    apiPod('api-during-outage', { containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] });
    await new Promise((r) => setTimeout(r, 30_000));
    expect(await containerIds('api-web')).toEqual(before);
    await api.comeBack();
    await until('pod created during the outage runs', () => getPod('api-during-outage')?.status?.phase === 'Running', 90_000);
    await until(
      'pod deleted during the outage is gone',
      async () => getPod('api-after-410') === undefined && (await containerIds('api-after-410')).length === 0,
      90_000,
    );
    expect(await containerIds('api-web')).toEqual(before);
    expect(getPod('api-web')?.status?.phase).toBe('Running');
  }, 180_000);
});
