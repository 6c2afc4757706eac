// An in-memory Runtime for hermetic unit tests of the pod worker and manager. It
// keeps sandboxes and containers with labels exactly as an engine would; tests make
// containers exit with `exit(id, code)`. Never used where a test proves a feature
// works on a real engine.
import { Readable } from 'node:stream';
import type {
  ContainerConfig,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  ExecResult,
  ImageInfo,
  LabelFilter,
  PodSandboxConfig,
  PodSandboxStatus,
  PodSandboxSummary,
  Runtime,
  RuntimeEvent,
  RuntimeVersion,
} from '../../agent/runtime/runtime.js';
import { ImagePullError, NotFoundError } from '../../agent/runtime/errors.js';

interface FakeSandbox {
  status: PodSandboxStatus;
}
interface FakeContainer {
  status: ContainerStatus;
  config: ContainerConfig;
}

function matches(labels: Record<string, string>, filter?: Record<string, string>): boolean {
  return Object.entries(filter ?? {}).every(([k, v]) => labels[k] === v);
}

export class FakeRuntime implements Runtime {
  /** As Docker's, so container IDs read as the agent's tests expect (`docker://<id>`). */
  readonly runtimeType = 'docker';
  readonly sandboxes = new Map<string, FakeSandbox>();
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, ImageInfo>();
  readonly calls: string[] = [];
  private seq = 0;
  private ipSeq = 2;
  now: () => Date = () => new Date();

  constructor(images: string[] = []) {
    for (const ref of images) this.images.set(ref, { id: `sha256:${ref}`, repoTags: [ref], repoDigests: [], size: 1 });
  }

  private id(prefix: string): string {
    return `${prefix}${(++this.seq).toString(16).padStart(12, '0')}${'0'.repeat(48)}`;
  }

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: 'fake', runtimeVersion: '1.0', runtimeApiVersion: '1' };
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    this.calls.push(`runPodSandbox ${config.metadata.name}`);
    const id = this.id('s');
    this.sandboxes.set(id, {
      status: {
        id,
        metadata: config.metadata,
        state: 'ready',
        createdAt: this.now(),
        ip: config.namespaces.network === 'NODE' ? '' : `10.0.0.${this.ipSeq++}`,
        labels: { ...config.labels, 'io.kubernetes.docker.type': 'podsandbox' },
        annotations: config.annotations,
        hostNetwork: config.namespaces.network === 'NODE',
      },
    });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    this.calls.push(`stopPodSandbox ${id.slice(0, 4)}`);
    const s = this.sandboxes.get(id);
    if (s) s.status.state = 'notready';
  }

  async removePodSandbox(id: string): Promise<void> {
    this.calls.push(`removePodSandbox ${id.slice(0, 4)}`);
    this.sandboxes.delete(id);
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const s = this.sandboxes.get(id);
    if (!s) throw new NotFoundError(`sandbox ${id} not found`);
    return structuredClone(s.status);
  }

  async listPodSandboxes(filter?: LabelFilter): Promise<PodSandboxSummary[]> {
    return [...this.sandboxes.values()]
      .filter((s) => matches(s.status.labels, filter?.labels))
      .map((s) => {
        const { ip: _ip, hostsPath: _h, resolvConfPath: _r, hostNetwork: _n, ...summary } = structuredClone(s.status);
        return summary;
      });
  }

  async createContainer(podSandboxId: string, config: ContainerConfig): Promise<string> {
    this.calls.push(`createContainer ${config.metadata.name}`);
    const id = this.id('c');
    this.containers.set(id, {
      config,
      status: {
        id,
        podSandboxId,
        metadata: config.metadata,
        image: config.image,
        imageRef: config.image,
        state: 'created',
        createdAt: this.now(),
        labels: { ...config.labels, 'io.kubernetes.docker.type': 'container' },
        annotations: config.annotations,
        mounts: config.mounts,
      },
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.calls.push(`startContainer ${this.get(id).config.metadata.name}`);
    const c = this.get(id);
    c.status.state = 'running';
    c.status.startedAt = this.now();
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    this.calls.push(`stopContainer ${c.config.metadata.name} ${timeoutSeconds}`);
    if (c.status.state === 'running') this.exit(id, 137);
  }

  async removeContainer(id: string): Promise<void> {
    this.calls.push(`removeContainer ${this.containers.get(id)?.config.metadata.name ?? id}`);
    this.containers.delete(id);
  }

  async listContainers(filter?: LabelFilter & { podSandboxId?: string }): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => matches(c.status.labels, filter?.labels) && (!filter?.podSandboxId || c.status.podSandboxId === filter.podSandboxId))
      .map((c) => {
        const {
          startedAt: _s,
          finishedAt: _f,
          exitCode: _e,
          reason: _r,
          message: _m,
          pid: _p,
          mounts: _mo,
          logPath: _l,
          ...summary
        } = structuredClone(c.status);
        return summary;
      });
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    return structuredClone(this.get(id).status);
  }

  async imageStatus(ref: string): Promise<ImageInfo | undefined> {
    return this.images.get(ref);
  }

  async pullImage(ref: string): Promise<ImageInfo> {
    this.calls.push(`pullImage ${ref}`);
    const image = this.images.get(ref);
    if (!image) throw new ImagePullError(`pull access denied for ${ref}`);
    return image;
  }

  async removeImage(ref: string): Promise<void> {
    this.images.delete(ref);
  }
  async listImages(): Promise<ImageInfo[]> {
    return [...this.images.values()];
  }

  async exec(): Promise<ExecResult> {
    return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false };
  }

  async logs(): Promise<Readable> {
    return Readable.from([]);
  }

  async stats(): Promise<ContainerStats> {
    return { timestamp: this.now(), cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0, memoryUsageBytes: 0 };
  }

  private readonly eventStreams = new Set<{ push(e: RuntimeEvent): void; fail(err: Error): void }>();

  /** Open streams get what emitEvent() sends, until aborted or broken by endEventStreams(). */
  async *events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    const queue: RuntimeEvent[] = [];
    let failure: Error | undefined;
    let wakeUp: (() => void) | undefined;
    const stream = {
      push: (e: RuntimeEvent) => {
        queue.push(e);
        wakeUp?.();
      },
      fail: (err: Error) => {
        failure = err;
        wakeUp?.();
      },
    };
    const onAbort = () => wakeUp?.();
    this.eventStreams.add(stream);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (failure) throw failure;
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
        });
        wakeUp = undefined;
      }
    } finally {
      this.eventStreams.delete(stream);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Sends an engine event to every open events() stream. */
  emitEvent(event: RuntimeEvent): void {
    for (const stream of this.eventStreams) stream.push(event);
  }

  /** Breaks every open events() stream, as an engine restart does. */
  endEventStreams(err = new Error('event stream closed')): void {
    for (const stream of this.eventStreams) stream.fail(err);
  }

  /** How many events() streams are open. */
  get openEventStreams(): number {
    return this.eventStreams.size;
  }

  /** Makes a running container exit, as its process would. */
  exit(id: string, exitCode: number): void {
    const c = this.get(id);
    c.status.state = 'exited';
    c.status.exitCode = exitCode;
    c.status.finishedAt = this.now();
    c.status.reason = exitCode === 0 ? 'Completed' : 'Error';
  }

  byName(name: string): FakeContainer[] {
    return [...this.containers.values()]
      .filter((c) => c.config.metadata.name === name)
      .sort((a, b) => b.status.createdAt.getTime() - a.status.createdAt.getTime() || b.config.metadata.attempt - a.config.metadata.attempt);
  }

  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new NotFoundError(`container ${id} not found`);
    return c;
  }
}
