// Probe handlers against a real busybox container: exec through Docker (success,
// failure with its output, a hang killed at the timeout) and httpGet/tcpSocket to
// the pod IP, served by busybox httpd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execProbe } from '../../../agent/probes/exec-handler.js';
import { httpProbe } from '../../../agent/probes/http-handler.js';
import { tcpProbe } from '../../../agent/probes/tcp-handler.js';
import { LABEL_MANAGED } from '../../../agent/runtime/labels.js';
import { busyboxImageTag, pauseImageTag } from '../../../agent/runtime/docker/local-images.js';
import type { EngineRuntime } from '../../../agent/runtime/create-runtime.js';
import type { PodSandboxConfig } from '../../../agent/runtime/runtime.js';
import { criContainerConfig } from '../../support/cri-configs.js';
import { TEST_RUN_LABEL, createTestNetwork, removeAllWithLabel, runId, testRuntime, type TestNetwork } from '../../support/docker.js';

let runtime: EngineRuntime;
let network: TestNetwork;
let containerId = '';
let podIP = '';

const name = `probes-${runId}`;
const labels = {
  'io.kubernetes.pod.name': name,
  'io.kubernetes.pod.namespace': 'default',
  'io.kubernetes.pod.uid': `uid-${name}`,
  [LABEL_MANAGED]: 'true',
  [TEST_RUN_LABEL]: runId,
};

beforeAll(async () => {
  runtime = testRuntime();
  await runtime.ensureLocalImages();
  network = await createTestNetwork();
  const sandbox: PodSandboxConfig = {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    portMappings: [],
    labels,
    annotations: {},
    networkName: network.name,
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
    image: pauseImageTag(),
  };
  const sandboxId = await runtime.runPodSandbox(sandbox);
  podIP = (await runtime.podSandboxStatus(sandboxId)).ip;
  const config = criContainerConfig({
    metadata: { name: 'app', attempt: 0 },
    image: busyboxImageTag(),
    command: ['sh', '-c', 'mkdir -p /www && echo up > /www/healthz && touch /tmp/healthy && exec httpd -f -p 8080 -h /www'],
    labels: { ...labels, 'io.kubernetes.container.name': 'app' },
  });
  containerId = await runtime.createContainer(sandboxId, config, sandbox);
  await runtime.startContainer(containerId);
  // Wait for httpd to listen.
  for (let i = 0; i < 50; i++) {
    if ((await tcpProbe({ port: 8080 }, { podIP, container: { name: 'app' } }, 1000)).result === 'success') break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await removeAllWithLabel(TEST_RUN_LABEL, runId);
  await network?.remove();
});

describe('exec probe on Docker', () => {
  it('succeeds when the command exits 0', async () => {
    const outcome = await execProbe(runtime, containerId, ['cat', '/tmp/healthy'], 5_000);
    expect(outcome.result).toBe('success');
  });

  it("fails with the command's output when it exits non-zero", async () => {
    const outcome = await execProbe(runtime, containerId, ['cat', '/tmp/missing'], 5_000);
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toMatch(/can't open '\/tmp\/missing': No such file or directory/);
  });

  it('fails when the command outlives the timeout', async () => {
    const outcome = await execProbe(runtime, containerId, ['sleep', '30'], 500);
    expect(outcome).toMatchObject({ result: 'failure', message: 'command "sleep 30" timed out' });
  });
});

describe('network probes to the pod IP', () => {
  it('gets 200 from httpd and fails on a missing page', async () => {
    const container = { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] };
    expect(await httpProbe({ port: 'http', path: '/healthz' }, { podIP, container }, 2_000)).toMatchObject({ result: 'success', statusCode: 200 });
    expect(await httpProbe({ port: 8080, path: '/nope' }, { podIP, container }, 2_000)).toMatchObject({
      result: 'failure',
      statusCode: 404,
      message: 'HTTP probe failed with statuscode: 404',
    });
  });

  it('connects to the open port and fails on a closed one', async () => {
    expect((await tcpProbe({ port: 8080 }, { podIP, container: { name: 'app' } }, 2_000)).result).toBe('success');
    const closed = await tcpProbe({ port: 8081 }, { podIP, container: { name: 'app' } }, 2_000);
    expect(closed.result).toBe('failure');
    expect(closed.message).toMatch(/ECONNREFUSED/);
  });
});
