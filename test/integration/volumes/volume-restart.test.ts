// Volumes across agent kill -9: a restarted agent finds emptyDir contents and the
// Memory tmpfs intact (mounted once, containers not recreated), and tears down the
// volumes of pods that went away while it was down — whether their containers were
// still there (orphans) or already gone (only the directory was left).
import type { ChildProcess } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, docker, nodeContainers, podManifest, prepareTestNode, spawnAgentProcess, type TestNodeFiles } from '../../support/agent-harness.js';
import { until } from '../../support/wait.js';
import { PodStateStore } from '../../../agent/state/pod-state-store.js';

const startAgentProcess = (files: TestNodeFiles, configPath: string) => spawnAgentProcess(files, ['--config', configPath]);

const mountCount = async (path: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === path).length;

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('volumes across agent restarts', () => {
  let files: TestNodeFiles;
  let agent: ChildProcess | undefined;
  let configPath: string;
  beforeAll(async () => {
    files = await prepareTestNode();
    configPath = join(files.config.rootDir, 'nodelet.yaml');
    await writeFile(configPath, 'relistPeriodMs: 1000\nfileCheckFrequencyMs: 1000\npodDirCleanupPeriodMs: 1000\n');
  });
  afterAll(async () => {
    agent?.kill('SIGKILL');
    await files?.cleanup();
  });

  const store = () => new PodStateStore(files.config.rootDir);
  const uidOf = async (name: string) => {
    for (const uid of await store().listPodUIDs()) {
      if ((await store().loadPod(uid))?.metadata.name === files.staticName(name)) return uid;
    }
    return undefined;
  };
  const running = async (name: string) => {
    const uid = await uidOf(name);
    const pod = uid ? await store().loadPod(uid) : undefined;
    return pod?.status?.containerStatuses?.every((c) => c.state.running) && pod.status.containerStatuses.length > 0 ? uid : undefined;
  };
  const spec = (file: string) => ({
    terminationGracePeriodSeconds: 2,
    volumes: [
      { name: 'disk', emptyDir: {} },
      { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
    ],
    containers: [
      {
        name: 'main',
        image: BUSYBOX,
        command: ['sh', '-c', `echo ${file} > /disk/f; echo ${file} > /mem/f; sleep 3600`],
        volumeMounts: [
          { name: 'disk', mountPath: '/disk' },
          { name: 'mem', mountPath: '/mem' },
        ],
      },
    ],
  });

  it('keeps volumes intact across kill -9 and removes those of pods gone meanwhile', async () => {
    await files.writeManifest('pods.yaml', [
      podManifest('keep', spec('keep')),
      podManifest('orphan', spec('orphan')),
      podManifest('vanished', spec('vanished')),
    ]);
    agent = startAgentProcess(files, configPath);
    const keep = await until('keep running', () => running('keep'));
    const orphan = await until('orphan running', () => running('orphan'));
    const vanished = await until('vanished running', () => running('vanished'));
    const volumes = (uid: string) => join(files.config.rootDir, 'pods', uid, 'volumes', 'emptyDir');
    await until('files written', async () => ((await exists(join(volumes(keep), 'mem', 'f'))) ? true : undefined));
    const keepIds = (await nodeContainers(files.config.nodeName))
      .filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('keep'))
      .map((c) => c.Id)
      .sort();

    agent.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    // While the agent is down: two pods leave the manifests; one of them also loses its containers.
    await files.writeManifest('pods.yaml', [podManifest('keep', spec('keep'))]);
    for (const c of await nodeContainers(files.config.nodeName)) {
      if (c.Labels['io.kubernetes.pod.name'] === files.staticName('vanished')) await docker.getContainer(c.Id).remove({ force: true });
    }

    agent = startAgentProcess(files, configPath);
    await until('orphan and vanished pod directories removed', async () =>
      !(await exists(join(files.config.rootDir, 'pods', orphan))) && !(await exists(join(files.config.rootDir, 'pods', vanished))) ? true : undefined,
    );
    expect(await mountCount(join(volumes(orphan), 'mem'))).toBe(0);
    expect(await mountCount(join(volumes(vanished), 'mem'))).toBe(0);

    // The surviving pod: same containers, contents intact, its tmpfs mounted exactly once.
    const idsAfter = (await nodeContainers(files.config.nodeName))
      .filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('keep'))
      .map((c) => c.Id)
      .sort();
    expect(idsAfter).toEqual(keepIds);
    expect(await readFile(join(volumes(keep), 'disk', 'f'), 'utf8')).toBe('keep\n');
    expect(await readFile(join(volumes(keep), 'mem', 'f'), 'utf8')).toBe('keep\n');
    expect(await mountCount(join(volumes(keep), 'mem'))).toBe(1);
  });
});
