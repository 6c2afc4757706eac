// Docker unreachable: the agent says so, keeps retrying instead of exiting, and
// brings the pods back once the engine answers again.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../../agent/agent.js';
import { BUSYBOX, docker, nodeContainers, podManifest, prepareTestNode, type TestNodeFiles } from '../../support/agent-harness.js';
import { SocketProxy } from '../../support/socket-proxy.js';
import { until } from '../../support/wait.js';

describe('container runtime outage', () => {
  let files: TestNodeFiles;
  let proxy: SocketProxy;
  let dir: string;
  let agent: RunningAgent | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodelet-proxy-'));
    proxy = new SocketProxy(join(dir, 'docker.sock'));
    files = await prepareTestNode({ containerRuntimeEndpoint: `unix://${join(dir, 'docker.sock')}` });
  });
  afterAll(async () => {
    await agent?.stop();
    await proxy.down();
    await files.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for an unreachable engine, then runs pods, and recovers them after an outage', async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    await files.writeManifest('pod.yaml', [
      podManifest('survivor', {
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'main', image: BUSYBOX, command: ['sleep', '3600'] }],
      }),
    ]);

    // The engine is down when the agent starts: it must neither exit nor give up.
    let started = false;
    const starting = startAgent(files.config, logger).then((a) => {
      started = true;
      agent = a;
      return a;
    });
    await until('the outage reported', () => lines.some((l) => l.includes('connecting to the container runtime')));
    expect(started).toBe(false);

    await proxy.up();
    const running = await starting;
    const podName = files.staticName('survivor');
    const find = () => running.manager.pods().find((p) => p.pod.metadata.name === podName);
    await until('pod running', () => find()?.status?.phase === 'Running');
    const firstId = find()!.status!.containerStatuses![0]!.containerID;

    // Outage while the pod runs; meanwhile its container dies behind the agent's back.
    await proxy.down();
    await until('the relist failure reported', () => lines.some((l) => l.includes('container runtime unreachable')), 30_000);
    const victim = (await nodeContainers(files.config.nodeName)).find((c) => c.Labels['io.kubernetes.container.name'] === 'main');
    await docker.getContainer(victim!.Id).kill();

    await proxy.up();
    await until(
      'the container restarted after the outage',
      () => {
        const c = find()?.status?.containerStatuses?.[0];
        return c?.state.running && c.containerID !== firstId && c.restartCount >= 1;
      },
      60_000,
    );
    expect(lines.some((l) => l.includes('reachable again'))).toBe(true);
    expect(find()?.status?.phase).toBe('Running');
  });
});
