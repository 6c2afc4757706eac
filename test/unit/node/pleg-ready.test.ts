// The PLEG's health reaches the Node's Ready condition through the node health
// checks: the Node registers Ready once the PLEG has relisted, and turns NotReady
// with kubelet's reason and message when relists stop completing.
import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { KubeClient } from '../../../agent/kube/client.js';
import { NodeHealthProbe } from '../../../agent/node/node-health-probe.js';
import { defaultNodeRegistrationOptions } from '../../../agent/node/node-registration-options.js';
import { NodeStatusReporter } from '../../../agent/node/node-status-reporter.js';
import type { Node } from '../../../agent/node/node-types.js';
import { GenericPLEG } from '../../../agent/pleg/generic-pleg.js';
import { plegHealthCheck } from '../../../agent/pleg/pleg-health.js';
import { RuntimeUnavailableError } from '../../../agent/runtime/errors.js';
import { FakeClock } from '../../../agent/api/clock.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { FACTS } from './fixtures.js';

const silent = pino({ level: 'silent' });

function setUp() {
  const clock = new FakeClock();
  const runtime = new FakeRuntime();
  const pleg = new GenericPLEG({ runtime, nodeName: 'worker-1', clock, logger: silent, relistPeriodMs: 1_000 });
  const reporter = new NodeStatusReporter({
    client: {} as KubeClient, // registration only builds the Node; nothing is sent here
    config: { nodeName: 'worker-1', maxPods: 110, port: 0 },
    options: defaultNodeRegistrationOptions(),
    facts: FACTS,
    probe: new NodeHealthProbe({
      runtime,
      rootDir: '/var/lib/nodelet',
      runtimeTimeoutMs: 1_000,
      clock,
      healthChecks: [plegHealthCheck(pleg)],
      measureUsage: async () => ({}),
    }),
    reportFrequencyMs: 300_000,
    clock,
    logger: silent,
  });
  return { clock, runtime, pleg, reporter };
}

const ready = (node: Node) => node.status?.conditions?.find((c) => c.type === 'Ready');

describe('PLEG health in the Ready condition', () => {
  it('is NotReady before the first relist and Ready after it', async () => {
    const { pleg, reporter } = setUp();
    expect(ready(await reporter.nodeToRegister())).toMatchObject({
      status: 'False',
      reason: 'KubeletNotReady',
      message: 'PLEG is not healthy: pleg has yet to be successful',
    });
    await pleg.relist();
    expect(ready(await reporter.nodeToRegister())).toMatchObject({ status: 'True', reason: 'KubeletReady' });
  });

  it('turns Ready False when relists have not completed within 3 minutes', async () => {
    const { clock, runtime, pleg, reporter } = setUp();
    await pleg.relist();
    vi.spyOn(runtime, 'listPodSandboxes').mockRejectedValue(new RuntimeUnavailableError('connect ENOENT /var/run/docker.sock'));
    clock.advance(180_000);
    await pleg.relist();
    expect(ready(await reporter.nodeToRegister())?.status).toBe('True');
    clock.advance(1_000);
    expect(ready(await reporter.nodeToRegister())).toMatchObject({
      status: 'False',
      reason: 'KubeletNotReady',
      message: 'PLEG is not healthy: pleg was last seen active 3m1s ago; threshold is 3m0s',
    });
  });
});
