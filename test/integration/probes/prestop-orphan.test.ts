// preStop runs for a pod deleted while the agent was down: the restarted agent has
// no spec for it, only the runtime's labels, which carry the hook (as kubelet's do).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../../agent/agent.js';
import { BUSYBOX, nodeContainers, podManifest, prepareTestNode, type TestNodeFiles } from '../../support/agent-harness.js';

describe('preStop for a pod deleted while the agent was down', () => {
  let files: TestNodeFiles;
  let agent: RunningAgent | undefined;
  let host: string;
  beforeAll(async () => {
    files = await prepareTestNode();
    host = await mkdtemp(join(tmpdir(), 'nodelet-prestop-'));
  });
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await files?.cleanup();
    await rm(host, { recursive: true, force: true });
  });

  it('runs the hook from the container labels before stopping the orphan', async () => {
    await files.writeManifest('hooked.yaml', [
      podManifest('hooked', {
        terminationGracePeriodSeconds: 10,
        volumes: [{ name: 'out', hostPath: { path: host, type: 'Directory' } }],
        containers: [
          {
            name: 'main',
            image: BUSYBOX,
            command: ['sleep', '3600'],
            volumeMounts: [{ name: 'out', mountPath: '/out' }],
            lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo ran > /out/prestop'] } } },
          },
        ],
      }),
    ]);
    const silent = pino({ level: 'silent' });
    agent = await startAgent(files.config, silent);
    const deadline = Date.now() + 60_000;
    while (!(await nodeContainers(files.config.nodeName)).some((c) => c.State === 'running' && c.Labels['io.kubernetes.container.name'] === 'main')) {
      if (Date.now() > deadline) throw new Error('pod never ran');
      await new Promise((r) => setTimeout(r, 250));
    }
    await agent.stop();
    agent = undefined;
    await files.removeManifest('hooked.yaml');

    agent = await startAgent(files.config, silent);
    while ((await nodeContainers(files.config.nodeName)).some((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName('hooked'))) {
      if (Date.now() > deadline + 60_000) throw new Error('orphan never removed');
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await readFile(join(host, 'prestop'), 'utf8')).toBe('ran\n');
  });
});
