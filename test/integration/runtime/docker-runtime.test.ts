// DockerRuntime against the real engine: sandboxes on a bridge network, containers
// joining them, exec, logs, stop, stats, events and image errors.
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagePullError, NotFoundError, isRuntimeError } from '../../../agent/runtime/errors.js';
import { LABEL_MANAGED } from '../../../agent/runtime/labels.js';
import { busyboxImageTag, pauseImageTag } from '../../../agent/runtime/docker/local-images.js';
import type { ContainerConfig, ContainerStatus, PodSandboxConfig, RuntimeEvent } from '../../../agent/runtime/runtime.js';
import type { EngineRuntime } from '../../../agent/runtime/create-runtime.js';
import { TEST_RUN_LABEL, createTestNetwork, removeAllWithLabel, runId, testRuntime, type TestNetwork } from '../../support/docker.js';
import { criContainerConfig } from '../../support/cri-configs.js';

const BUSYBOX = busyboxImageTag();
let runtime: EngineRuntime;
let network: TestNetwork;
let podCounter = 0;

function sandboxConfig(overrides: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  const name = `rt-${runId}-${podCounter++}`;
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    portMappings: [],
    labels: {
      'io.kubernetes.pod.name': name,
      'io.kubernetes.pod.namespace': 'default',
      'io.kubernetes.pod.uid': `uid-${name}`,
      [LABEL_MANAGED]: 'true',
      [TEST_RUN_LABEL]: runId,
    },
    annotations: { 'test/annotation': 'yes' },
    networkName: network.name,
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
    image: pauseImageTag(),
    ...overrides,
  };
}

function containerConfig(name: string, command: string[], overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return criContainerConfig({
    metadata: { name, attempt: 0 },
    image: BUSYBOX,
    command,
    envs: [{ key: 'GREETING', value: 'hello world' }],
    labels: { 'io.kubernetes.container.name': name, [LABEL_MANAGED]: 'true', [TEST_RUN_LABEL]: runId },
    log: { maxSize: '1Mi', maxFiles: 2 },
    ...overrides,
  });
}

/** A running container in a fresh sandbox. */
async function runContainer(name: string, command: string[], overrides: Partial<ContainerConfig> = {}): Promise<{ sandboxId: string; id: string }> {
  const sandbox = sandboxConfig();
  const sandboxId = await runtime.runPodSandbox(sandbox);
  const id = await runtime.createContainer(sandboxId, containerConfig(name, command, overrides), sandbox);
  await runtime.startContainer(id);
  return { sandboxId, id };
}

async function waitForExit(id: string): Promise<ContainerStatus> {
  for (let i = 0; i < 200; i++) {
    const status = await runtime.containerStatus(id);
    if (status.state === 'exited') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`container ${id} did not exit`);
}

beforeAll(async () => {
  runtime = testRuntime();
  await runtime.ensureLocalImages();
  network = await createTestNetwork();
});

afterAll(async () => {
  await removeAllWithLabel(TEST_RUN_LABEL, runId);
  await network?.remove();
});

describe('DockerRuntime sandboxes and containers', () => {
  it('runs a sandbox whose two containers share its IP and the resolv.conf written for it', async () => {
    const sandbox = sandboxConfig({
      dns: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
    });
    const sandboxId = await runtime.runPodSandbox(sandbox);
    const status = await runtime.podSandboxStatus(sandboxId);
    expect(status).toMatchObject({
      id: sandboxId,
      state: 'ready',
      hostNetwork: false,
      metadata: sandbox.metadata,
      annotations: { 'test/annotation': 'yes' },
    });
    expect(status.ip).toMatch(new RegExp(`^${network.subnet.split('.').slice(0, 3).join('\\.')}\\.\\d+$`));

    const ids: string[] = [];
    for (const name of ['one', 'two']) {
      const id = await runtime.createContainer(sandboxId, containerConfig(name, ['sleep', '3600']), sandbox);
      await runtime.startContainer(id);
      ids.push(id);
    }
    for (const id of ids) {
      const ip = await runtime.exec(id, ['sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]);
      expect(ip.stdout.toString().trim()).toBe(status.ip);
      const resolv = (await runtime.exec(id, ['cat', '/etc/resolv.conf'])).stdout.toString();
      expect(resolv).toBe('nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n');
      const hostname = await runtime.exec(id, ['hostname']);
      expect(hostname.stdout.toString().trim()).toBe(sandbox.hostname);
    }

    const one = await runtime.containerStatus(ids[0]!);
    expect(one).toMatchObject({ podSandboxId: sandboxId, metadata: { name: 'one', attempt: 0 }, state: 'running', image: BUSYBOX });
    expect(one.imageRef).toMatch(/^sha256:/);
    expect(one.logPath).toMatch(/-json\.log$/);

    const listed = await runtime.listContainers({ podSandboxId: sandboxId });
    expect(listed.map((c) => c.id).sort()).toEqual([...ids].sort());
    const sandboxes = await runtime.listPodSandboxes({ labels: { [TEST_RUN_LABEL]: runId, 'io.kubernetes.pod.name': sandbox.metadata.name } });
    expect(sandboxes.map((s) => s.id)).toEqual([sandboxId]);
    expect(sandboxes[0]?.metadata).toEqual(sandbox.metadata);

    await runtime.stopPodSandbox(sandboxId);
    expect((await runtime.podSandboxStatus(sandboxId)).state).toBe('notready');
    expect((await runtime.containerStatus(ids[1]!)).state).toBe('exited');
    await runtime.stopPodSandbox(sandboxId); // stopping twice is fine
    await runtime.removePodSandbox(sandboxId);
    await runtime.removePodSandbox(sandboxId); // and so is removing twice
    await expect(runtime.podSandboxStatus(sandboxId)).rejects.toThrow(NotFoundError);
    await expect(runtime.containerStatus(ids[0]!)).rejects.toThrow(NotFoundError);
  });

  it('runs a host-network sandbox without a pod IP', async () => {
    const sandboxId = await runtime.runPodSandbox(
      sandboxConfig({
        hostname: '',
        namespaces: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' },
        dns: { servers: ['10.96.0.10'], searches: [], options: [] },
      }),
    );
    expect(await runtime.podSandboxStatus(sandboxId)).toMatchObject({ state: 'ready', ip: '', hostNetwork: true });
    await runtime.removePodSandbox(sandboxId);
  });

  it('publishes host ports of the sandbox to the containers behind it', async () => {
    const hostPort = 20_000 + Math.floor(Math.random() * 20_000);
    const sandbox = sandboxConfig({ portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort, hostIp: '127.0.0.1' }] });
    const sandboxId = await runtime.runPodSandbox(sandbox);
    const id = await runtime.createContainer(
      sandboxId,
      containerConfig('web', ['sh', '-c', 'echo served > /var/www/index.html && exec httpd -f -p 8080 -h /var/www']),
      sandbox,
    );
    await runtime.startContainer(id);
    let body = '';
    for (let i = 0; i < 40 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
        (r) => r.text(),
        () => '',
      );
      if (body === '') await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).toBe('served\n');
  });

  it('creates a container again under a suffixed name when its name is taken', async () => {
    const sandbox = sandboxConfig();
    const sandboxId = await runtime.runPodSandbox(sandbox);
    const config = containerConfig('twice', ['true']);
    const first = await runtime.createContainer(sandboxId, config, sandbox);
    const second = await runtime.createContainer(sandboxId, config, sandbox);
    expect(second).not.toBe(first);
    const statuses = await Promise.all([first, second].map((id) => runtime.containerStatus(id)));
    expect(statuses.map((s) => s.metadata)).toEqual([
      { name: 'twice', attempt: 0 },
      { name: 'twice', attempt: 0 },
    ]);
  });

  it('refuses a container whose image is missing, without pulling it', async () => {
    const sandbox = sandboxConfig();
    const sandboxId = await runtime.runPodSandbox(sandbox);
    const err = await runtime.createContainer(sandboxId, containerConfig('ghost', ['true'], { image: `nodelet-missing/ghost:${runId}` }), sandbox).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRuntimeError(err, 'ImageNotPresent')).toBe(true);
    expect((err as Error).message).toContain(`nodelet-missing/ghost:${runId}`);
  });

  it("reports a failed start with Docker's reason", async () => {
    const sandbox = sandboxConfig();
    const sandboxId = await runtime.runPodSandbox(sandbox);
    const id = await runtime.createContainer(sandboxId, containerConfig('bad', ['/no/such/binary']), sandbox);
    const err = await runtime.startContainer(id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRuntimeError(err, 'StartContainerFailed')).toBe(true);
    expect((err as Error).message).toMatch(/no such file or directory/);
  });
});

describe('DockerRuntime exec', () => {
  let id: string;
  beforeAll(async () => {
    ({ id } = await runContainer('exec', ['sleep', '3600']));
  });

  it('returns the exit code and keeps stdout and stderr apart', async () => {
    const r = await runtime.exec(id, ['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3']);
    expect(r).toMatchObject({ exitCode: 3, timedOut: false });
    expect(r.stdout.toString()).toBe('hello world\n');
    expect(r.stderr.toString()).toBe('oops\n');
  });

  it('keeps the tail of a large output', async () => {
    const r = await runtime.exec(id, ['seq', '1', '100000']);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(r.exitCode).toBe(0);
    expect(lines).toHaveLength(100_000);
    expect(lines.at(-1)).toBe('100000');
  });

  it('feeds stdin and caps captured output', async () => {
    expect((await runtime.exec(id, ['cat'], { stdin: 'from stdin' })).stdout.toString()).toBe('from stdin');
    const capped = await runtime.exec(id, ['seq', '1', '1000'], { maxOutputBytes: 10 });
    expect(capped.stdout.toString()).toBe('1\n2\n3\n4\n5\n');
    expect(capped.exitCode).toBe(0);
  });

  it('gives up after the timeout with exit code -1', async () => {
    const r = await runtime.exec(id, ['sleep', '5'], { timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, exitCode: -1 });
  });
});

describe('DockerRuntime logs', () => {
  it('returns the output without frame headers, with tail and timestamps', async () => {
    // Docker copies stdout and stderr in separate goroutines: the pauses keep the order certain.
    const { id } = await runContainer('logger', ['sh', '-c', 'echo first; sleep 0.1; echo second >&2; sleep 0.1; echo third']);
    await waitForExit(id);
    expect(await text(await runtime.logs(id))).toBe('first\nsecond\nthird\n');
    expect(await text(await runtime.logs(id, { tailLines: 1 }))).toBe('third\n');
    const stamped = (await text(await runtime.logs(id, { timestamps: true }))).trimEnd().split('\n');
    expect(stamped).toHaveLength(3);
    expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z first$/);
  });

  it('follows until the signal aborts', async () => {
    const { id } = await runContainer('ticker', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.1; done']);
    const abort = new AbortController();
    const stream = await runtime.logs(id, { follow: true, signal: abort.signal });
    let seen = '';
    for await (const chunk of stream) {
      seen += String(chunk);
      if (seen.includes('tick-3\n')) abort.abort();
    }
    expect(seen.startsWith('tick-1\ntick-2\ntick-3\n')).toBe(true);
  });
});

describe('DockerRuntime stop', () => {
  it('kills a container that ignores SIGTERM once the grace period is over', async () => {
    const { id } = await runContainer('stubborn', ['sh', '-c', "trap 'echo ignoring' TERM; while :; do sleep 0.2; done"]);
    await runtime.stopContainer(id, 1);
    expect(await runtime.containerStatus(id)).toMatchObject({ state: 'exited', exitCode: 137, reason: 'Error' });
    await runtime.stopContainer(id, 1); // stopping an exited container is not an error
  });

  it('stops gracefully with SIGTERM, and with another signal when asked', async () => {
    const { id: polite } = await runContainer('polite', ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 0.2; done"]);
    await runtime.stopContainer(polite, 10);
    expect(await runtime.containerStatus(polite)).toMatchObject({ state: 'exited', exitCode: 0, reason: 'Completed' });

    const { id: custom } = await runContainer('custom', ['sh', '-c', "trap 'exit 7' USR1; trap '' TERM; while :; do sleep 0.2; done"]);
    await runtime.stopContainer(custom, 10, 'SIGUSR1');
    expect(await runtime.containerStatus(custom)).toMatchObject({ state: 'exited', exitCode: 7 });
  });

  it('treats a missing container as already stopped and removed', async () => {
    await runtime.stopContainer('0'.repeat(64), 1);
    await runtime.removeContainer('0'.repeat(64));
    await expect(runtime.containerStatus('0'.repeat(64))).rejects.toThrow(NotFoundError);
  });
});

describe('DockerRuntime stats and events', () => {
  it('reads one-shot stats of a running container', async () => {
    const { id } = await runContainer('busy', ['sh', '-c', 'seq 1 200000 > /dev/null; sleep 3600']);
    const stats = await runtime.stats(id);
    expect(stats.memoryUsageBytes).toBeGreaterThan(0);
    expect(stats.memoryWorkingSetBytes).toBeGreaterThan(0);
    expect(stats.memoryWorkingSetBytes).toBeLessThanOrEqual(stats.memoryUsageBytes);
    expect(stats.cpuUsageCoreNanoSeconds).toBeGreaterThan(0);
    expect(stats.timestamp.getFullYear()).toBeGreaterThan(2000);
  });

  it('reports the start of a managed container and ends when the signal aborts', async () => {
    const abort = new AbortController();
    const seen: RuntimeEvent[] = [];
    const watching = (async () => {
      for await (const event of runtime.events(abort.signal)) seen.push(event);
    })();
    await new Promise((r) => setTimeout(r, 200)); // let the stream open
    const { sandboxId, id } = await runContainer('evented', ['sleep', '3600']);
    for (let i = 0; i < 100 && !seen.some((e) => e.id === id && e.action === 'start'); i++) await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    await watching; // ends once aborted
    expect(seen.find((e) => e.id === id && e.action === 'start')).toMatchObject({ kind: 'container' });
    expect(seen.find((e) => e.id === sandboxId && e.action === 'start')).toMatchObject({ kind: 'sandbox' });
    expect(seen.every((e) => e.labels[LABEL_MANAGED] === 'true')).toBe(true);
  });
});

describe('DockerRuntime images', () => {
  it('reports present and missing images', async () => {
    const busybox = await runtime.imageStatus(BUSYBOX);
    expect(busybox?.id).toMatch(/^sha256:/);
    expect(busybox?.repoTags).toContain(BUSYBOX);
    expect(await runtime.imageStatus(`nodelet-missing/none:${runId}`)).toBeUndefined();
    expect((await runtime.listImages()).some((i) => i.repoTags.includes(pauseImageTag()))).toBe(true);
    await runtime.removeImage(`nodelet-missing/none:${runId}`); // removing a missing image is fine
  });

  it("fails a pull from an unreachable registry with ImagePullError carrying Docker's message", async () => {
    const err = await runtime.pullImage('127.0.0.1:5999/none:1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImagePullError);
    expect((err as Error).message).toContain('127.0.0.1:5999');
  });

  it('reports the runtime version', async () => {
    const v = await runtime.version();
    expect(v.runtimeName).toBe('docker');
    expect(v.runtimeVersion).toMatch(/^\d+\.\d+/);
    expect(v.runtimeApiVersion).toMatch(/^1\.\d+$/);
  });
});
