// The agent can be killed at any moment: kill -9 it with pods running, start it
// again, and it adopts everything — no container recreated, restart counts intact —
// while the pods removed during the outage are cleaned up.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, nodeContainers, podManifest, prepareTestNode, spawnAgentProcess, type TestNodeFiles } from '../../support/agent-harness.js';
import { until } from '../../support/wait.js';
import { PodStateStore } from '../../../agent/state/pod-state-store.js';
import type { Pod } from '../../../agent/api/types.js';

const startAgentProcess = (files: TestNodeFiles) => spawnAgentProcess(files, ['--log-level', 'debug']);

describe('agent restart safety', () => {
  let files: TestNodeFiles;
  let agent: ChildProcess | undefined;
  beforeAll(async () => {
    files = await prepareTestNode();
  });
  afterAll(async () => {
    agent?.kill('SIGKILL');
    await files?.cleanup();
  });

  const store = () => new PodStateStore(files.config.rootDir);
  const podsByName = async () => {
    const out = new Map<string, Pod>();
    for (const uid of await store().listPodUIDs()) {
      const p = await store().loadPod(uid);
      if (p?.metadata.name) out.set(p.metadata.name, p);
    }
    return out;
  };

  it('adopts running pods after kill -9 with zero containers recreated', async () => {
    await files.writeManifest('pods.yaml', [
      podManifest('steady', {
        containers: [
          { name: 'a', image: BUSYBOX, command: ['sleep', '3600'] },
          { name: 'b', image: BUSYBOX, command: ['sleep', '3600'] },
        ],
      }),
      podManifest('flaky', { containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', 'sleep 1; exit 1'] }] }),
      podManifest('doomed', { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }] }),
    ]);
    agent = startAgentProcess(files);
    await until('pods running', async () => {
      const pods = await podsByName();
      const steady = pods.get(files.staticName('steady'));
      const flaky = pods.get(files.staticName('flaky'));
      const doomed = pods.get(files.staticName('doomed'));
      const ok =
        steady?.status?.containerStatuses?.every((c) => c.ready) &&
        doomed?.status?.phase === 'Running' &&
        (flaky?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1;
      return ok ? true : undefined;
    });

    agent.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    const before = (await nodeContainers(files.config.nodeName)).filter((c) => c.State === 'running');
    const flakyRestarts = (await podsByName()).get(files.staticName('flaky'))!.status!.containerStatuses![0]!.restartCount;
    // While the agent is down, one pod is removed from the manifests.
    await files.writeManifest('pods.yaml', [
      podManifest('steady', {
        containers: [
          { name: 'a', image: BUSYBOX, command: ['sleep', '3600'] },
          { name: 'b', image: BUSYBOX, command: ['sleep', '3600'] },
        ],
      }),
      podManifest('flaky', { containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', 'sleep 1; exit 1'] }] }),
    ]);

    agent = startAgentProcess(files);
    await until('doomed pod cleaned up', async () => {
      const left = (await nodeContainers(files.config.nodeName)).filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('doomed'));
      return left.length === 0 ? true : undefined;
    });

    const after = await nodeContainers(files.config.nodeName);
    const steadyBefore = before
      .filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('steady'))
      .map((c) => c.Id)
      .sort();
    const steadyAfter = after
      .filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('steady'))
      .map((c) => c.Id)
      .sort();
    expect(steadyBefore).toHaveLength(3); // sandbox + two containers
    expect(steadyAfter).toEqual(steadyBefore);
    expect(after.filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('steady') && c.State !== 'running')).toEqual([]);

    const steady = await until('steady status re-published', async () => {
      const p = (await podsByName()).get(files.staticName('steady'));
      return p?.status?.containerStatuses?.every((c) => c.ready && c.restartCount === 0) ? p : undefined;
    });
    expect(steady.status?.phase).toBe('Running');
    const flaky = (await podsByName()).get(files.staticName('flaky'))!;
    expect(flaky.status!.containerStatuses![0]!.restartCount).toBeGreaterThanOrEqual(flakyRestarts);
  });
});
