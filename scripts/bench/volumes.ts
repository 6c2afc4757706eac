// volumes benchmark: a joined agent (test apiserver) runs, one at a time, a pod with
// 10 volumes (2 emptyDir, 2 Memory emptyDir, 2 hostPath, 2 configMap, 2 secret) and
// the same pod with none; per round, set-up (created → Running via watch) and
// teardown (delete → object gone after the agent's final DELETE). Medians of the
// rounds, and ratio = (set-up + teardown with volumes) / (the same without).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../../agent/api/version.js';
import { removeTreeSafely } from '../../agent/volumes/safe-remove.js';
import { TestApiServer } from '../../test/support/apiserver/server.js';
import { freeBenchSubnet, removeByLabel, removeNetwork } from './startup.js';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const ms = (n: number) => `${n.toFixed(0)} ms`;

function podSpec(withVolumes: boolean, hostDir: string): Record<string, unknown> {
  const volumes = [
    { name: 'ed1', emptyDir: {} },
    { name: 'ed2', emptyDir: {} },
    { name: 'mem1', emptyDir: { medium: 'Memory' } },
    { name: 'mem2', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    { name: 'hp1', hostPath: { path: hostDir, type: 'Directory' } },
    { name: 'hp2', hostPath: { path: join(hostDir, 'sub'), type: 'DirectoryOrCreate' } },
    { name: 'cm1', configMap: { name: 'bench-config' } },
    { name: 'cm2', configMap: { name: 'bench-config', items: [{ key: 'a', path: 'x/a' }] } },
    { name: 's1', secret: { secretName: 'bench-secret' } },
    { name: 's2', secret: { secretName: 'bench-secret', defaultMode: 0o400 } },
  ];
  return {
    terminationGracePeriodSeconds: 0,
    ...(withVolumes ? { volumes } : {}),
    containers: [
      {
        // Exits on SIGTERM at once, so teardown measures the agent, not a grace period.
        name: 'app',
        image: `nodelet/busybox:${VERSION}`,
        command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
        ...(withVolumes ? { volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/v/${v.name}` })) } : {}),
      },
    ],
  };
}

export async function runVolumesBench(args: string[]): Promise<void> {
  const i = args.indexOf('--rounds');
  const rounds = i >= 0 ? Number(args[i + 1]) : 7;
  process.stdout.write(`volumes bench: ${rounds} rounds of a pod with 10 volumes and one with none\n`);
  const api = new TestApiServer({ bookmarkIntervalMs: 5000 });
  await api.start();
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-bench-vol-'));
  const hostDir = join(dir, 'host');
  await mkdir(hostDir);
  const nodeName = `bench-vol-${Date.now().toString(36)}`;
  const kubeconfig = await api.kubeconfig(join(dir, 'kubeconfig'));
  api.create('configmaps', 'default', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'bench-config', namespace: 'default' },
    data: { a: '1', b: '2' },
  });
  api.create('secrets', 'default', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'bench-secret', namespace: 'default' },
    data: { p: Buffer.from('x').toString('base64') },
  });
  const child = spawn(
    process.execPath,
    [
      'dist/agent/cli/main.js',
      'agent',
      '--node-name',
      nodeName,
      '--root-dir',
      join(dir, 'root'),
      '--kubeconfig',
      kubeconfig,
      '--pod-cidr',
      await freeBenchSubnet(),
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );

  const waitFor = (predicate: (c: { type: string; resource: string; object: any }) => boolean) =>
    new Promise<number>((resolve) => {
      const off = api.onChange((c) => {
        if (predicate(c as any)) {
          off();
          resolve(performance.now());
        }
      });
    });

  const runOne = async (name: string, withVolumes: boolean) => {
    const running = waitFor((c) => c.resource === 'pods' && c.object.metadata.name === name && c.object.status?.phase === 'Running');
    const t0 = performance.now();
    api.create('pods', 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeName, ...podSpec(withVolumes, hostDir) },
    });
    const t1 = await running;
    const gone = waitFor((c) => c.resource === 'pods' && c.type === 'DELETED' && c.object.metadata.name === name);
    const t2 = performance.now();
    // Graceful: the object stays until the agent has torn the pod down and sent the final DELETE.
    api.delete('pods', 'default', name, { gracePeriodSeconds: 10 });
    const t3 = await gone;
    return { setUp: t1 - t0, tearDown: t3 - t2 };
  };

  try {
    await api.waitFor('nodes', undefined, nodeName, (n) => n !== undefined, 60_000);
    await runOne('warmup', true);
    const results = { with: [] as Array<{ setUp: number; tearDown: number }>, without: [] as Array<{ setUp: number; tearDown: number }> };
    for (let r = 0; r < rounds; r++) {
      results.without.push(await runOne(`plain-${r}`, false));
      results.with.push(await runOne(`volumes-${r}`, true));
    }
    const summary = (list: Array<{ setUp: number; tearDown: number }>) => ({
      setUp: median(list.map((x) => x.setUp)),
      tearDown: median(list.map((x) => x.tearDown)),
      total: median(list.map((x) => x.setUp + x.tearDown)),
    });
    const a = summary(results.without);
    const b = summary(results.with);
    process.stdout.write(`no volumes:  set-up ${ms(a.setUp)}, teardown ${ms(a.tearDown)}, total ${ms(a.total)} (median)\n`);
    process.stdout.write(`10 volumes:  set-up ${ms(b.setUp)}, teardown ${ms(b.tearDown)}, total ${ms(b.total)} (median)\n`);
    process.stdout.write(`ratio=${(b.total / a.total).toFixed(2)}\n`);
  } finally {
    child.kill('SIGKILL');
    await removeByLabel(`nodelet.io/node=${nodeName}`);
    await removeNetwork(`nodelet-${nodeName}`);
    await api.stop();
    await removeTreeSafely(dir);
  }
}
