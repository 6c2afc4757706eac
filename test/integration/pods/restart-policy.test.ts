// restartPolicy Always / OnFailure / Never against exit codes 0 and 1, and init
// containers running one by one in order, on the real Docker engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

describe('restart policies and init containers', () => {
  let node: TestAgent;
  beforeAll(async () => {
    node = await startTestAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  const cases = [
    { policy: 'Always', exit: 0, phase: 'Running', restarts: true },
    { policy: 'Always', exit: 1, phase: 'Running', restarts: true },
    { policy: 'OnFailure', exit: 0, phase: 'Succeeded', restarts: false },
    { policy: 'OnFailure', exit: 1, phase: 'Running', restarts: true },
    { policy: 'Never', exit: 0, phase: 'Succeeded', restarts: false },
    { policy: 'Never', exit: 1, phase: 'Failed', restarts: false },
  ] as const;

  it('applies each restart policy to exit codes 0 and non-zero', async () => {
    const name = (c: (typeof cases)[number]) => `rp-${c.policy.toLowerCase()}-${c.exit}`;
    await node.writeManifest(
      'restart.yaml',
      cases.map((c) =>
        podManifest(name(c), {
          restartPolicy: c.policy,
          containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', `sleep 1; exit ${c.exit}`] }],
        }),
      ),
    );
    for (const c of cases) {
      if (c.restarts) {
        const st = await node.waitForPod(name(c), 'restarted', (s) => containerStatus(s, 'main').restartCount >= 1);
        expect(st.phase).toBe(c.phase);
        expect(containerStatus(st, 'main').lastState.terminated?.exitCode).toBe(c.exit);
      } else {
        const st = await node.waitForPod(name(c), c.phase, (s) => s.phase === c.phase);
        const main = containerStatus(st, 'main');
        expect(main.restartCount).toBe(0);
        expect(main.state.terminated?.exitCode).toBe(c.exit);
        expect(main.state.terminated?.reason).toBe(c.exit === 0 ? 'Completed' : 'Error');
        expect(st.conditions?.find((x) => x.type === 'Ready')?.reason).toBe('PodCompleted');
      }
    }
  });

  it('runs init containers one at a time, in order, before the app containers', async () => {
    await node.writeManifest('init.yaml', [
      podManifest('inits', {
        initContainers: [
          { name: 'first', image: BUSYBOX, command: ['sh', '-c', 'sleep 1'] },
          { name: 'second', image: BUSYBOX, command: ['sh', '-c', 'sleep 1'] },
        ],
        containers: [{ name: 'app', image: BUSYBOX, command: ['sleep', '3600'] }],
      }),
    ]);
    const st = await node.waitForPod('inits', 'Running', (s) => s.phase === 'Running');
    const first = containerStatus(st, 'first').state.terminated;
    const second = containerStatus(st, 'second').state.terminated;
    const app = containerStatus(st, 'app').state.running;
    expect(first?.exitCode).toBe(0);
    expect(second?.exitCode).toBe(0);
    expect(Date.parse(second!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first!.finishedAt!));
    expect(Date.parse(app!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(second!.finishedAt!));
    expect(st.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');
  });

  it('fails the pod when an init container fails under restartPolicy Never, and starts no app container', async () => {
    await node.writeManifest('init-fail.yaml', [
      podManifest('init-fail', {
        restartPolicy: 'Never',
        initContainers: [{ name: 'broken', image: BUSYBOX, command: ['sh', '-c', 'exit 3'] }],
        containers: [{ name: 'app', image: BUSYBOX, command: ['sleep', '3600'] }],
      }),
    ]);
    const st = await node.waitForPod('init-fail', 'Failed', (s) => s.phase === 'Failed');
    expect(containerStatus(st, 'broken').state.terminated?.exitCode).toBe(3);
    expect(containerStatus(st, 'app').state.waiting?.reason).toBe('PodInitializing');
  });
});
