// The node controller against the in-memory apiserver on loopback: registration,
// adoption, Lease heartbeats, status reports, runtime health and apiserver outages.
// Intervals are shortened through the constructor so each case takes seconds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../agent/config/config.js';
import { VERSION } from '../../../agent/api/version.js';
import { KubeClient } from '../../../agent/kube/client.js';
import { createLogger } from '../../../agent/log/logger.js';
import { NodeController, type NodeControllerOptions } from '../../../agent/node/node-controller.js';
import { nodeFacts, type NodeFacts } from '../../../agent/node/node-facts.js';
import type { Lease, Node, NodeCondition } from '../../../agent/node/node-types.js';
import type { RuntimeVersion } from '../../../agent/runtime/runtime.js';
import { TestApiServer } from '../../support/apiserver/server.js';

const DOCKER: RuntimeVersion = { runtimeName: 'docker', runtimeVersion: '20.10.24', runtimeApiVersion: '1.41' };

/** A runtime whose version() answers or fails as the test says. */
class SwitchableRuntime {
  failure: string | undefined;
  async version(): Promise<RuntimeVersion> {
    if (this.failure) throw new Error(this.failure);
    return DOCKER;
  }
}

let dir: string;
let facts: NodeFacts;
const running: Array<{ controller: NodeController; client: KubeClient; server: TestApiServer }> = [];
let seq = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nodelet-node-'));
  facts = await nodeFacts(dir);
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.controller.stop();
    r.client.close();
    await r.server.stop();
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Setup {
  server?: TestApiServer;
  runtime?: { version(): Promise<RuntimeVersion> };
  lines?: string[];
  overrides?: Partial<NodeControllerOptions>;
}

async function startNode(setup: Setup = {}) {
  const server = setup.server ?? new TestApiServer();
  if (!server.isUp) await server.start();
  const client = await KubeClient.fromKubeconfig(await server.kubeconfig(join(dir, `kubeconfig-${++seq}`)), { timeoutMs: 2_000 });
  const name = `node-${seq}`;
  const lines = setup.lines ?? [];
  const controller = new NodeController({
    client,
    config: { ...defaultConfig(), nodeName: name, rootDir: dir, maxPods: 110, port: 0 },
    runtime: setup.runtime ?? new SwitchableRuntime(),
    logger: createLogger('debug', {
      write: (line: string) => {
        lines.push(line);
      },
    }),
    options: {
      nodeLabels: { 'node-role.kubernetes.io/worker': '' },
      registerWithTaints: [{ key: 'example.com/dedicated', value: 'ci', effect: 'NoSchedule' }],
      systemReserved: { cpu: '100m', memory: '64Mi' },
      kubeReserved: {},
    },
    statusUpdateFrequencyMs: 200,
    statusReportFrequencyMs: 60_000,
    leaseRenewIntervalMs: 200,
    facts,
    ...setup.overrides,
  });
  running.push({ controller, client, server });
  return { server, client, controller, name, lines };
}

function condition(node: Node | undefined, type: string): NodeCondition | undefined {
  return node?.status?.conditions?.find((c) => c.type === type);
}

function statusPatches(server: TestApiServer, name: string): number {
  return server.countRequests({ verb: 'patch', resource: 'nodes', name, subresource: 'status' });
}

describe('NodeController', () => {
  it('registers a Node with labels, taints, resources, addresses, nodeInfo and conditions', async () => {
    const { server, controller, name } = await startNode();
    controller.start();
    const registered = await controller.whenRegistered();
    const node = server.get<Node>('nodes', undefined, name);
    expect(node.metadata.uid).toBe(registered.metadata.uid);
    expect(node.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': facts.hostname,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': facts.architecture,
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': facts.architecture,
      'node-role.kubernetes.io/worker': '',
    });
    expect(node.spec?.taints).toEqual([{ key: 'example.com/dedicated', value: 'ci', effect: 'NoSchedule' }]);
    expect(node.spec?.podCIDR).toBeUndefined();
    expect(node.status?.capacity).toEqual({
      cpu: String(facts.cpuCount),
      memory: `${Math.floor(facts.memoryBytes / 1024)}Ki`,
      'ephemeral-storage': `${Math.floor(facts.ephemeralStorageBytes / 1024)}Ki`,
      pods: '110',
    });
    expect(node.status?.allocatable).toMatchObject({
      cpu: `${facts.cpuCount * 1000 - 100}m`,
      memory: `${Math.floor((facts.memoryBytes - 64 * 1024 ** 2 - 100 * 1024 ** 2) / 1024)}Ki`,
      pods: '110',
    });
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: facts.internalIP },
      { type: 'Hostname', address: facts.hostname },
    ]);
    expect(node.status?.nodeInfo).toEqual({
      machineID: facts.machineID,
      systemUUID: facts.systemUUID,
      bootID: facts.bootID,
      kernelVersion: facts.kernelVersion,
      osImage: facts.osImage,
      containerRuntimeVersion: 'docker://20.10.24',
      kubeletVersion: `nodelet/v${VERSION}`,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: facts.architecture,
    });
    expect(node.status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(node.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory'],
      ['DiskPressure', expect.any(String), expect.stringMatching(/^KubeletHas(No)?DiskPressure$/)],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID'],
      ['Ready', 'True', 'KubeletReady'],
    ]);
    expect(condition(node, 'Ready')?.lastHeartbeatTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('adopts an existing Node of the same name: same UID, our labels added, its own kept', async () => {
    const server = new TestApiServer();
    await server.start();
    const name = `node-${seq + 1}`;
    const existing = server.create<Node>('nodes', undefined, {
      metadata: { name, labels: { 'example.com/rack': 'r1', 'kubernetes.io/hostname': 'stale' } },
      spec: { podCIDR: '10.244.7.0/24' },
    });
    const { controller } = await startNode({ server });
    const cidrs: string[] = [];
    controller.onPodCIDR((c) => cidrs.push(c));
    controller.start();
    const adopted = await server.waitFor<Node>(
      'nodes',
      undefined,
      name,
      (n) => n?.status?.nodeInfo?.kubeletVersion === `nodelet/v${VERSION}` && condition(n, 'Ready')?.status === 'True',
    );
    expect(adopted?.metadata.uid).toBe(existing.metadata.uid);
    expect(adopted?.metadata.labels).toMatchObject({
      'example.com/rack': 'r1',
      'kubernetes.io/hostname': facts.hostname,
      'node-role.kubernetes.io/worker': '',
    });
    // registerWithTaints applies to new Nodes only, as in kubelet.
    expect(adopted?.spec?.taints).toBeUndefined();
    expect(adopted?.status?.addresses).toEqual([
      { type: 'InternalIP', address: facts.internalIP },
      { type: 'Hostname', address: facts.hostname },
    ]);
    expect(adopted?.status?.capacity?.pods).toBe('110');
    expect(cidrs).toEqual(['10.244.7.0/24']);
    expect(server.countRequests({ verb: 'create', resource: 'nodes', status: 409 })).toBe(1);
  });

  it('keeps a Lease in kube-node-lease owned by the Node and renews it', async () => {
    const { server, controller, name } = await startNode();
    controller.start();
    const node = await controller.whenRegistered();
    const first = await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => l !== undefined);
    expect(first?.spec).toMatchObject({ holderIdentity: name, leaseDurationSeconds: 40 });
    expect(first?.spec?.renewTime).toMatch(/\.\d{6}Z$/);
    expect(first?.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid }]);
    const renewed = await server.waitFor<Lease>(
      'leases',
      'kube-node-lease',
      name,
      (l) => Date.parse(l?.spec?.renewTime ?? '') > Date.parse(first?.spec?.renewTime ?? ''),
    );
    expect(renewed?.metadata.resourceVersion).not.toBe(first?.metadata.resourceVersion);
  });

  it('renews a Lease that someone else changed (conflict: read again, retry)', async () => {
    const { server, controller, name } = await startNode();
    controller.start();
    await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => l !== undefined);
    server.patch('leases', 'kube-node-lease', name, { metadata: { labels: { touched: 'yes' } } }, 'merge');
    const after = Date.now();
    const renewed = await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => Date.parse(l?.spec?.renewTime ?? '') > after);
    expect(renewed?.metadata.labels).toEqual({ touched: 'yes' });
    expect(server.countRequests({ verb: 'update', resource: 'leases', status: 409 })).toBeGreaterThanOrEqual(1);
  });

  it('sends no status when nothing changed while the Lease carries the heartbeat', async () => {
    const { server, controller, name } = await startNode();
    controller.start();
    await controller.whenRegistered();
    const lease = await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => l !== undefined);
    // Several status periods pass (the lease is renewed at the same period).
    const renewedTwice = (l: Lease | undefined) => Number(l?.metadata.resourceVersion) > Number(lease?.metadata.resourceVersion) + 5;
    await server.waitFor<Lease>('leases', 'kube-node-lease', name, renewedTwice);
    expect(statusPatches(server, name)).toBe(0);
    expect(server.countRequests({ verb: 'create', resource: 'nodes' })).toBe(1);
  });

  it('carries the heartbeat in every status update where the server has no Lease API', async () => {
    const server = new TestApiServer({ disabledGroups: ['coordination.k8s.io'] });
    const { controller, name } = await startNode({ server });
    controller.start();
    const node = await controller.whenRegistered();
    const firstBeat = condition(node, 'Ready')?.lastHeartbeatTime ?? '';
    const later = await server.waitFor<Node>(
      'nodes',
      undefined,
      name,
      (n) => Date.parse(condition(n, 'Ready')?.lastHeartbeatTime ?? '') > Date.parse(firstBeat) && statusPatches(server, name) >= 3,
    );
    expect(condition(later, 'Ready')?.lastTransitionTime).toBe(condition(node, 'Ready')?.lastTransitionTime);
    expect(server.countRequests({ path: /\/leases/ })).toBe(0);
    expect(server.countRequests({ path: /^\/apis\/coordination\.k8s\.io\/v1$/, status: 404 })).toBe(1);
  });

  it('turns Ready False while the runtime is down, and True again', async () => {
    const runtime = new SwitchableRuntime();
    const { server, controller, name } = await startNode({ runtime });
    controller.start();
    const registered = await controller.whenRegistered();
    const readySince = condition(registered, 'Ready')?.lastTransitionTime;
    runtime.failure = 'connect ENOENT /var/run/docker.sock';
    const down = await server.waitFor<Node>('nodes', undefined, name, (n) => condition(n, 'Ready')?.status === 'False');
    expect(condition(down, 'Ready')).toMatchObject({
      reason: 'KubeletNotReady',
      message: 'container runtime is down: connect ENOENT /var/run/docker.sock',
    });
    expect(down?.status?.nodeInfo?.containerRuntimeVersion).toBe('docker://20.10.24');
    const patchesWhileDown = statusPatches(server, name);
    expect(patchesWhileDown).toBe(1);
    runtime.failure = undefined;
    const up = await server.waitFor<Node>('nodes', undefined, name, (n) => condition(n, 'Ready')?.status === 'True');
    expect(condition(up, 'Ready')?.reason).toBe('KubeletReady');
    expect(Date.parse(condition(up, 'Ready')?.lastTransitionTime ?? '')).toBeGreaterThanOrEqual(Date.parse(readySince ?? ''));
    await expect.poll(() => condition(controller.node(), 'Ready')?.status).toBe('True');
  });

  it('registers NotReady when the runtime never answers', async () => {
    const runtime = {
      version: async (): Promise<RuntimeVersion> => {
        throw new Error('Cannot connect to the Docker daemon');
      },
    };
    const { server, controller, name } = await startNode({ runtime });
    controller.start();
    await controller.whenRegistered();
    const node = server.get<Node>('nodes', undefined, name);
    expect(condition(node, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'KubeletNotReady',
      message: 'container runtime is down: Cannot connect to the Docker daemon',
    });
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toBe('');
  });

  it('resumes heartbeats after the apiserver was down, logging the outage once', async () => {
    const { server, controller, name, lines } = await startNode();
    controller.start();
    await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => l !== undefined);
    await server.goDown();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await server.comeBack();
    const back = Date.now();
    const renewed = await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => Date.parse(l?.spec?.renewTime ?? '') >= back - 1);
    expect(renewed?.spec?.holderIdentity).toBe(name);
    const logged = (msg: string) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg).length;
    expect(logged('apiserver unreachable; retrying with backoff')).toBe(1);
    await expect.poll(() => logged('apiserver reachable again')).toBe(1);
    // The Node is still the one registered before the outage.
    expect(server.countRequests({ verb: 'create', resource: 'nodes' })).toBe(1);
  });

  it('delivers a podCIDR set on the Node later', async () => {
    const { server, controller, name } = await startNode();
    const seen: string[] = [];
    controller.onPodCIDR((c) => seen.push(c));
    controller.start();
    await controller.whenRegistered();
    expect(seen).toEqual([]);
    server.patch('nodes', undefined, name, { spec: { podCIDR: '10.244.3.0/24', podCIDRs: ['10.244.3.0/24'] } });
    await expect.poll(() => seen).toEqual(['10.244.3.0/24']);
    const late: string[] = [];
    controller.onPodCIDR((c) => late.push(c));
    expect(late).toEqual(['10.244.3.0/24']);
    expect(controller.node()?.spec?.podCIDR).toBe('10.244.3.0/24');
  });

  it('registers again when its Node is deleted', async () => {
    const { server, controller, name } = await startNode();
    controller.start();
    const first = await controller.whenRegistered();
    server.delete('nodes', undefined, name);
    const again = await server.waitFor<Node>('nodes', undefined, name, (n) => n !== undefined && n.metadata.uid !== first.metadata.uid);
    expect(again?.metadata.labels?.['kubernetes.io/hostname']).toBe(facts.hostname);
    const lease = await server.waitFor<Lease>('leases', 'kube-node-lease', name, (l) => l?.metadata.ownerReferences?.[0]?.['uid'] === again?.metadata.uid);
    expect(lease?.metadata.ownerReferences).toHaveLength(1);
  });

  it('stops while a runtime call hangs', { timeout: 10_000 }, async () => {
    const runtime = { version: () => new Promise<RuntimeVersion>(() => {}) };
    const { controller, server } = await startNode({
      runtime,
      overrides: { statusUpdateFrequencyMs: 600_000, config: { ...defaultConfig(), nodeName: 'hung', rootDir: dir, runtimeRequestTimeoutMs: 600_000 } },
    });
    controller.start();
    await expect.poll(() => server.countRequests({ path: /^\/api\/v1\/nodes/ })).toBeGreaterThan(0);
    await controller.stop();
    expect(controller.node()).toBeUndefined();
  });
});
