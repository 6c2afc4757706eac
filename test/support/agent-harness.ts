// Runs a real agent in-process against the real Docker engine, with its own node
// name, root dir, manifests dir and pod CIDR, so tests never touch each other's (or
// an operator's) containers. cleanup() removes everything the node made.
import { removeTreeSafely } from '../../agent/volumes/safe-remove.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import Docker from 'dockerode';
import { DockerNetworkDriver } from '../../agent/runtime/docker/docker-network-driver.js';
import { defaultConfig, type NodeletConfiguration } from '../../agent/config/config.js';
import { startAgent, type RunningAgent } from '../../agent/agent.js';
import { createLogger } from '../../agent/log/logger.js';
import type { Pod, PodStatus } from '../../agent/api/types.js';
import { pino } from 'pino';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

const networks = new DockerNetworkDriver();
const removeNetwork = (name: string) => networks.removeNetwork(name).catch(() => undefined);
let counter = 0;

export const BUSYBOX = 'nodelet/busybox:0.1.0';

/** A subnet no other test agent of this process uses. */
export function uniquePodCIDR(): string {
  const a = 200 + ((process.pid + counter) % 40);
  const b = (Math.floor(Math.random() * 200) + counter++) % 250;
  return `10.${a}.${b}.0/24`;
}

export function uniqueNodeName(prefix = 'it'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export interface TestNodeFiles {
  config: NodeletConfiguration;
  writeManifest(file: string, pods: Array<Pod | Record<string, unknown>> | string): Promise<void>;
  removeManifest(file: string): Promise<void>;
  /** Static pods are named `<name>-<node>` as kubelet names them. */
  staticName(name: string): string;
  cleanup(): Promise<void>;
}

export async function prepareTestNode(overrides: Partial<NodeletConfiguration> = {}): Promise<TestNodeFiles> {
  const rootDir = await mkdtemp(join(tmpdir(), 'nodelet-root-'));
  const manifests = await mkdtemp(join(tmpdir(), 'nodelet-manifests-'));
  const config: NodeletConfiguration = {
    ...defaultConfig(),
    nodeName: uniqueNodeName(),
    rootDir,
    manifests,
    podCIDR: uniquePodCIDR(),
    fileCheckFrequencyMs: 1_000,
    relistPeriodMs: 1_000,
    syncFrequencyMs: 10_000,
    ...overrides,
  };
  return {
    config,
    async writeManifest(file, pods) {
      const text = typeof pods === 'string' ? pods : pods.map((p) => stringify(p)).join('---\n');
      // Write then rename so the source never reads half a file.
      const tmp = join(manifests, `.${file}.tmp`);
      await writeFile(tmp, text);
      const { rename } = await import('node:fs/promises');
      await rename(tmp, join(manifests, file));
    },
    async removeManifest(file) {
      await unlink(join(manifests, file)).catch(() => undefined);
    },
    staticName: (name) => `${name}-${config.nodeName}`,
    async cleanup() {
      await removeNodeContainers(config.nodeName);
      await removeNetwork(`nodelet-${config.nodeName}`);
      // Unmounts what the pods left (tmpfs, subPath binds) and never follows a link out.
      await removeTreeSafely(rootDir);
      await rm(manifests, { recursive: true, force: true });
    },
  };
}

export async function removeNodeContainers(nodeName: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`nodelet.io/node=${nodeName}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

export async function nodeContainers(nodeName: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`nodelet.io/node=${nodeName}`] } });
}

export interface TestAgent extends TestNodeFiles {
  agent: RunningAgent;
  pod(name: string): { pod: Pod; status?: PodStatus } | undefined;
  waitForPod(name: string, what: string, test: (status: PodStatus, pod: Pod) => boolean, timeoutMs?: number): Promise<PodStatus>;
  waitForGone(name: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestAgent(overrides: Partial<NodeletConfiguration> = {}): Promise<TestAgent> {
  const files = await prepareTestNode(overrides);
  const logger = process.env.NODELET_TEST_LOG ? createLogger('debug') : pino({ level: 'silent' });
  const agent = await startAgent(files.config, logger);
  const find = (name: string) => agent.manager.pods().find((p) => p.pod.metadata.name === files.staticName(name));
  return {
    ...files,
    agent,
    pod: find,
    async waitForPod(name, what, test, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: PodStatus | undefined;
      while (Date.now() < deadline) {
        const entry = find(name);
        last = entry?.status;
        if (entry?.status && test(entry.status, entry.pod)) return entry.status;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`pod ${name} never became ${what} within ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 1)}`);
    },
    async waitForGone(name, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const containers = await nodeContainers(files.config.nodeName);
        const left = containers.filter((c) => c.Labels['io.kubernetes.pod.name'] === files.staticName(name));
        if (!find(name) && left.length === 0) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`pod ${name} still present after ${timeoutMs} ms`);
    },
    async stop() {
      await agent.stop();
    },
    async cleanup() {
      await agent.stop().catch(() => undefined);
      await files.cleanup();
    },
  };
}

export function podManifest(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...metadata }, spec };
}

export function containerStatus(status: PodStatus, name: string) {
  const c = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].find((s) => s.name === name);
  if (!c) throw new Error(`no status for container ${name}: ${JSON.stringify(status)}`);
  return c;
}

/** A Docker exec the test runs that outlives this is a stuck engine stream, not a slow command. */
const EXEC_IN_DEADLINE_MS = 30_000;

/**
 * Runs `cmd` in a container through Docker's exec and returns its exit code and
 * output. Docker 20.10's attach stream has been seen not to end after the command
 * exited; past `deadlineMs` the exec is reported as exit code -1 with the reason in
 * the output, so a caller polling for success retries instead of hanging the test.
 */
export async function execIn(containerId: string, cmd: string[], deadlineMs = EXEC_IN_DEADLINE_MS): Promise<{ exitCode: number; output: string }> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const out = { write: (b: Buffer) => chunks.push(Buffer.from(b)) };
  let timer: NodeJS.Timeout | undefined;
  const ended = await new Promise<boolean>((resolve, reject) => {
    docker.modem.demuxStream(stream, out as unknown as NodeJS.WritableStream, out as unknown as NodeJS.WritableStream);
    stream.on('end', () => resolve(true));
    stream.on('error', reject);
    timer = setTimeout(() => resolve(false), deadlineMs);
  }).finally(() => clearTimeout(timer));
  const output = Buffer.concat(chunks).toString('utf8');
  if (!ended) {
    stream.destroy();
    return { exitCode: -1, output: `${output}\n[execIn: the exec stream of ${JSON.stringify(cmd)} did not end within ${deadlineMs} ms]` };
  }
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output };
}

export function dockerId(containerID: string | undefined): string {
  if (!containerID) throw new Error('container has no containerID yet');
  return containerID.replace(/^docker:\/\//, '');
}

export { docker };

export interface ContainerDeath {
  name: string;
  pod: string;
  exitCode: number;
  at: number;
}

/** Records every container death of a node from Docker's event stream (time and exit code). */
export async function watchContainerDeaths(nodeName: string): Promise<{ deaths: ContainerDeath[]; stop(): void }> {
  const deaths: ContainerDeath[] = [];
  const stream = await docker.getEvents({ filters: { label: [`nodelet.io/node=${nodeName}`], event: ['die'], type: ['container'] } });
  stream.on('data', (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Actor: { Attributes: Record<string, string> }; timeNano: number };
      deaths.push({
        name: e.Actor.Attributes['io.kubernetes.container.name'] ?? '',
        pod: e.Actor.Attributes['io.kubernetes.pod.name'] ?? '',
        exitCode: Number(e.Actor.Attributes.exitCode),
        at: e.timeNano / 1e6,
      });
    }
  });
  return { deaths, stop: () => (stream as unknown as { destroy?: () => void }).destroy?.() };
}

/**
 * A test agent plus a record of its containers' deaths, set up before the file's
 * tests and cleaned up after them (registers vitest's beforeAll/afterAll).
 */
export function agentWithDeathWatch(overrides: Partial<NodeletConfiguration> = {}): { readonly node: TestAgent; readonly deaths: ContainerDeath[] } {
  const ctx = { node: undefined as unknown as TestAgent, deaths: [] as ContainerDeath[] };
  let stop = () => undefined as void;
  beforeAll(async () => {
    ctx.node = await startTestAgent(overrides);
    const watch = await watchContainerDeaths(ctx.node.config.nodeName);
    ctx.deaths = watch.deaths;
    stop = watch.stop;
  });
  afterAll(async () => {
    stop();
    await ctx.node?.cleanup();
  });
  return ctx;
}

/** Runs the built CLI's agent as its own process for this node (so a test can kill -9 it). */
export function spawnAgentProcess(files: TestNodeFiles, extraArgs: string[] = []): ChildProcess {
  const c = files.config;
  const child = spawn(
    process.execPath,
    ['dist/agent/cli/main.js', 'agent', '--node-name', c.nodeName, '--root-dir', c.rootDir, '--manifests', c.manifests!, '--pod-cidr', c.podCIDR, ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.resume();
  return child;
}
