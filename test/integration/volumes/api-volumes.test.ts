// configMap and secret volumes and environment, joined to the test apiserver with
// real Docker: files and env as Kubernetes defines them, a live ConfigMap update
// seen inside the running container, a secret on tmpfs, and a pod waiting on a
// missing ConfigMap that starts once it appears.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestApiServer } from '../../support/apiserver/server.js';
import { BUSYBOX, dockerId, execIn, startTestAgent, type TestAgent } from '../../support/agent-harness.js';
import type { Pod } from '../../../agent/api/types.js';
import { until } from '../../support/wait.js';

describe('configMap and secret volumes and env (joined)', () => {
  let api: TestApiServer;
  let node: TestAgent;
  let dir: string;
  let nodeName: string;

  const apiPod = (name: string, spec: Record<string, unknown>) =>
    api.create<Pod>('pods', 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName, ...spec } });
  const runningContainer = (name: string) =>
    until(`${name} running`, () => {
      const p = api.find<Pod>('pods', 'default', name);
      const c = p?.status?.containerStatuses?.[0];
      return c?.state?.running ? dockerId(c.containerID) : undefined;
    });

  beforeAll(async () => {
    api = new TestApiServer({ token: 'node-token', bookmarkIntervalMs: 1000 });
    await api.start();
    dir = await mkdtemp(join(tmpdir(), 'nodelet-apivol-'));
    node = await startTestAgent({ kubeconfig: await api.kubeconfig(join(dir, 'kubeconfig')) });
    nodeName = node.config.nodeName;
    api.create('configmaps', 'default', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app-config', namespace: 'default' },
      data: { 'app.conf': 'level=info\n', greeting: 'hello' },
    });
    api.create('secrets', 'default', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'app-secret', namespace: 'default' },
      type: 'Opaque',
      data: { password: Buffer.from('s3cret').toString('base64'), token: Buffer.from('tok').toString('base64') },
    });
  });
  afterAll(async () => {
    await node?.cleanup();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('mounts configMap and secret volumes with items and modes, and fills env from both', async () => {
    apiPod('consumer', {
      volumes: [
        { name: 'config', configMap: { name: 'app-config' } },
        { name: 'secret', secret: { secretName: 'app-secret', defaultMode: 0o400, items: [{ key: 'password', path: 'db/password' }] } },
      ],
      containers: [
        {
          name: 'main',
          image: BUSYBOX,
          command: ['sleep', '3600'],
          env: [
            { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          ],
          envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'app-config' } }],
          volumeMounts: [
            { name: 'config', mountPath: '/etc/app' },
            { name: 'secret', mountPath: '/etc/secret' },
          ],
        },
      ],
    });
    const id = await runningContainer('consumer');
    expect((await execIn(id, ['cat', '/etc/app/app.conf'])).output).toBe('level=info\n');
    expect((await execIn(id, ['cat', '/etc/secret/db/password'])).output).toBe('s3cret');
    expect((await execIn(id, ['stat', '-L', '-c', '%a', '/etc/secret/db/password'])).output.trim()).toBe('400');
    expect((await execIn(id, ['test', '-e', '/etc/secret/token'])).exitCode).not.toBe(0);
    expect((await execIn(id, ['sh', '-c', 'grep " /etc/secret " /proc/mounts'])).output).toMatch(/tmpfs|\/etc\/secret/);
    const env = (await execIn(id, ['env'])).output;
    expect(env).toContain('GREETING=hello');
    expect(env).toContain('PASSWORD=s3cret');
    expect(env).toContain(`NODE=${nodeName}`);
    expect(env).toMatch(/POD_IP=\d+\.\d+\.\d+\.\d+/);
    expect(env).toContain('CFG_greeting=hello');
    // The volume is read-only for the container.
    expect((await execIn(id, ['sh', '-c', 'echo x > /etc/app/new'])).exitCode).not.toBe(0);
    // The secret's data lives on a tmpfs on the node, never on its disk.
    const uid = api.find<Pod>('pods', 'default', 'consumer')!.metadata.uid!;
    const { execFile } = await import('node:child_process');
    const mounts = await new Promise<string>((r) => execFile('cat', ['/proc/self/mountinfo'], (_e, out) => r(out)));
    expect(mounts).toContain(join(node.config.rootDir, 'pods', uid, 'volumes', 'secret', 'secret'));
  });

  it('shows a ConfigMap update inside the running container', async () => {
    apiPod('live', {
      volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
      containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'], volumeMounts: [{ name: 'config', mountPath: '/etc/app' }] }],
    });
    const id = await runningContainer('live');
    expect((await execIn(id, ['cat', '/etc/app/greeting'])).output).toBe('hello');
    const cm = api.get<Record<string, any>>('configmaps', 'default', 'app-config');
    api.update('configmaps', 'default', { ...cm, data: { ...cm.data, greeting: 'bonjour' } });
    await until('update visible', async () => (await execIn(id, ['cat', '/etc/app/greeting'])).output === 'bonjour', 30_000);
    const restarts = api.find<Pod>('pods', 'default', 'live')!.status!.containerStatuses![0]!.restartCount;
    expect(restarts).toBe(0);
  });

  it('keeps a pod ContainerCreating with FailedMount until its ConfigMap appears', async () => {
    apiPod('waiting', {
      volumes: [{ name: 'config', configMap: { name: 'late-config' } }],
      containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'], volumeMounts: [{ name: 'config', mountPath: '/etc/late' }] }],
    });
    const waiting = await until('waiting on the ConfigMap', () => {
      const c = api.find<Pod>('pods', 'default', 'waiting')?.status?.containerStatuses?.[0];
      return c?.state?.waiting?.message?.includes('configmap "late-config" not found') ? c : undefined;
    });
    expect(waiting.state?.waiting?.reason).toBe('ContainerCreating');
    await until('FailedMount event', () =>
      api.list<Record<string, any>>('events', 'default').some((e) => e.reason === 'FailedMount' && e.involvedObject?.name === 'waiting'),
    );
    api.create('configmaps', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-config', namespace: 'default' }, data: { k: 'v' } });
    const id = await runningContainer('waiting');
    expect((await execIn(id, ['cat', '/etc/late/k'])).output).toBe('v');
  });

  it('reports a missing env key as CreateContainerConfigError with the Kubernetes message', async () => {
    apiPod('badenv', {
      containers: [
        {
          name: 'main',
          image: BUSYBOX,
          command: ['sleep', '3600'],
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'nope' } } }],
        },
      ],
    });
    const c = await until('config error', () => {
      const s = api.find<Pod>('pods', 'default', 'badenv')?.status?.containerStatuses?.[0];
      return s?.state?.waiting?.reason === 'CreateContainerConfigError' ? s : undefined;
    });
    expect(c.state?.waiting?.message).toContain("couldn't find key nope in ConfigMap default/app-config");
  });
});
