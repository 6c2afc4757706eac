// CrashLoopBackOff on the real engine: the first restart is immediate, then the
// waits grow (10 s, 20 s…), and the status says so the way kubectl shows it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, containerStatus, podManifest, startTestAgent, type TestAgent } from '../../support/agent-harness.js';

describe('CrashLoopBackOff', () => {
  let node: TestAgent;
  beforeAll(async () => {
    node = await startTestAgent();
  });
  afterAll(async () => {
    await node?.cleanup();
  });

  it('backs off restarts of a crashing container with growing delays', async () => {
    await node.writeManifest('crash.yaml', [
      podManifest('crasher', {
        containers: [{ name: 'crash', image: BUSYBOX, command: ['sh', '-c', 'exit 2'] }],
      }),
    ]);
    const messages = new Set<string>();
    await node.waitForPod(
      'crasher',
      'restarted 3 times',
      (s) => {
        const c = containerStatus(s, 'crash');
        if (c.state.waiting?.reason === 'CrashLoopBackOff') messages.add(c.state.waiting.message ?? '');
        return c.restartCount >= 3 && c.state.waiting?.reason === 'CrashLoopBackOff';
      },
      90_000,
    );
    const st = node.pod('crasher')!.status!;
    const crash = containerStatus(st, 'crash');
    expect(crash.lastState.terminated?.exitCode).toBe(2);
    expect(st.phase).toBe('Running');
    expect([...messages].some((m) => m.startsWith('back-off 10s restarting failed container=crash'))).toBe(true);
    expect([...messages].some((m) => m.startsWith('back-off 20s restarting failed container=crash'))).toBe(true);
  });
});
