// The Runtime on Docker, over dockerode. Every short request runs under its own
// deadline (an abort signal plus a timer), never dockerode's client-wide timeout,
// which would also cut quiet log, event and exec streams. Failures leave here typed:
// RuntimeUnavailableError (socket gone, timeout), NotFoundError (404), or the
// operation's own error carrying Docker's message.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { enableHairpinOnBridgePorts } from './bridge-hairpin.js';
import { silentLogger, type Logger } from '../../log/logger.js';
import { CreateContainerError, ImagePullError, NotFoundError, RuntimeError, RuntimeUnavailableError, StartContainerError, isRuntimeError } from '../errors.js';
import { imageName, normalizeImageReference, parseImageReference } from '../image-reference.js';
import { LABEL_TYPE, TYPE_CONTAINER, TYPE_SANDBOX } from '../labels.js';
import { buildBusyboxImage, buildPauseImage, busyboxImageTag, pauseImageTag } from './local-images.js';
import type {
  ContainerConfig,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  DNSConfig,
  ExecHandler,
  ExecOptions,
  ExecResult,
  ImageInfo,
  LabelFilter,
  LogOptions,
  PodSandboxConfig,
  PodSandboxStatus,
  PodSandboxSummary,
  Runtime,
  RuntimeEvent,
  RuntimeVersion,
} from '../runtime.js';
import { containerCreateOptions } from './container-create-options.js';
import { createDockerCall, type DockerCall } from './docker-call.js';
import { GenericRuntimeError, dockerMessage, httpStatusOf, toRuntimeError } from './docker-errors.js';
import { LABEL_SANDBOX_ID } from './docker-labels.js';
import { DockerNetworkDriver } from './docker-network-driver.js';
import { DOCKER_SOCKET_PATH } from './docker-socket.js';
import { eventFilters, runtimeEventFromDocker } from './event-mapping.js';
import { runExec } from './exec/exec-session.js';
import { DockerRawApi } from './exec/docker-raw-api.js';
import { pullThroughDocker } from './image-pull.js';
import { jsonMessages } from './json-stream.js';
import { openLogStream } from './log-stream.js';
import { withConflictSuffix } from './names.js';
import { NATIVE_EXEC_HELPER_PATH, NativeExecHelper, nativeExecHelperInstalled } from './exec/native-exec-helper.js';
import { NativeExec, resolveExecHandler } from './exec/native-exec.js';
import { resolvConfContent } from './resolv-conf.js';
import { sandboxCreateOptions, type DockerCreateOptions } from './sandbox-create-options.js';
import { DEFAULT_STOP_SIGNAL, normalizeSignal } from './signals.js';
import { containerStatsFromDocker } from './stats-mapping.js';
import { containerStatusFromInspect, containerSummaryFromList, sandboxStatusFromInspect, sandboxSummaryFromList } from './status-mapping.js';

/** kubelet's runtime request timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
/** The pause process exits at once on SIGTERM; this only bounds a misbehaving sandbox image. */
const SANDBOX_STOP_TIMEOUT_SECONDS = 2;
/** A pull is cancelled when Docker reports no progress for this long (kubelet's image pull progress deadline). */
const PULL_PROGRESS_DEADLINE_MS = 60_000;
/** Building a local image imports a few MB; allow more than a plain request when the budget is small. */
const LOCAL_IMAGE_BUILD_TIMEOUT_MS = 120_000;

export interface DockerRuntimeOptions {
  socketPath?: string;
  /** Deadline of each short request; streams (logs, events, exec) are bounded by their callers. */
  requestTimeoutMs?: number;
  logger?: Logger;
  /**
   * How bounded, non-interactive execs (probes, hooks) run: 'native' through the
   * native exec helper, into the container's namespaces and cgroups with its
   * confinement, for the containers whose confinement it can reproduce (Docker's
   * exec for the rest); 'docker' always through Docker's exec API; 'auto' as native.
   * Execs with input, a terminal or no deadline always take Docker's. The helper
   * needs a root agent and `npm run build`; without them Docker's exec runs
   * everything (logged as a warning when native was asked for). Default docker.
   */
  execHandler?: ExecHandler;
  /** The native exec helper's path (default: the one `npm run build` made); null = do without it. */
  nativeExecHelperPath?: string | null;
  /** Where `Localhost` seccomp profiles live (kubelet's `<root-dir>/seccomp`). */
  seccompProfileRoot?: string;
}

const DEFAULT_SECCOMP_PROFILE_ROOT = '/var/lib/nodelet/seccomp';

/** A Localhost seccomp profile's JSON, read from below the profile root (the path was validated; this checks again). */
async function readLocalhostProfile(root: string, profile: string, container: string): Promise<string> {
  const path = resolvePath(root, profile);
  if (!path.startsWith(`${resolvePath(root)}/`)) {
    throw new CreateContainerError(`container "${container}": seccompProfile.localhostProfile "${profile}" leaves the seccomp profile root ${root}`);
  }
  try {
    const text = await readFile(path, 'utf8');
    JSON.parse(text);
    return text;
  } catch (err) {
    throw new CreateContainerError(`container "${container}": cannot use seccomp profile ${path}: ${(err as Error).message}`);
  }
}

type LocalImageBuilder = (docker: Docker, tag: string) => Promise<void>;

function short(id: string): string {
  return id.length > 12 && /^[0-9a-f]+$/.test(id) ? id.slice(0, 12) : id;
}

function labelFilter(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function isTolerated(err: unknown, statuses: number[]): boolean {
  const status = httpStatusOf(err);
  return status !== undefined && statuses.includes(status);
}

export class DockerRuntime implements Runtime {
  readonly runtimeType = 'docker';
  /** The pod network's bridge, on the same socket. */
  readonly podNetwork: DockerNetworkDriver;
  private readonly docker: Docker;
  private readonly endpoint: string;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;
  /** Every short request goes through here: deadline and error mapping. */
  private readonly call: DockerCall;
  private readonly localBuilds = new Map<string, Promise<void>>();
  /** Exec's create/start/inspect without dockerode (see docker-raw-api.ts). */
  private readonly rawApi: DockerRawApi;
  /** Pod network name → its bridge device ('' when the network is not a bridge). */
  private readonly bridgeNames = new Map<string, string>();
  private readonly localImages: ReadonlyMap<string, LocalImageBuilder>;
  private readonly resolvedExecHandler: 'docker' | 'native';
  private readonly seccompProfileRoot: string;
  /** Set when execHandler is native. */
  private readonly native?: NativeExec;

  constructor(options: DockerRuntimeOptions = {}) {
    const socketPath = options.socketPath ?? DOCKER_SOCKET_PATH;
    this.docker = new Docker({ socketPath });
    this.rawApi = new DockerRawApi(socketPath);
    this.podNetwork = new DockerNetworkDriver(socketPath);
    this.endpoint = `unix://${socketPath}`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.log = options.logger ?? silentLogger;
    this.call = createDockerCall(this.endpoint, this.requestTimeoutMs);
    this.seccompProfileRoot = options.seccompProfileRoot ?? DEFAULT_SECCOMP_PROFILE_ROOT;
    this.localImages = new Map<string, LocalImageBuilder>([
      [pauseImageTag(), (docker, tag) => buildPauseImage(docker, tag)],
      [busyboxImageTag(), (docker, tag) => buildBusyboxImage(docker, tag)],
    ]);
    // Docker's exec costs a runc exec (~40 ms of CPU); the native helper costs a fork,
    // with the same confinement. Containers whose confinement the helper cannot
    // reproduce (seccomp, LSM labels) go through Docker either way.
    const nativePath = options.nativeExecHelperPath === undefined ? NATIVE_EXEC_HELPER_PATH : options.nativeExecHelperPath;
    const resolved = resolveExecHandler(options.execHandler ?? 'docker', {
      isRoot: process.getuid?.() === 0,
      nativeInstalled: nativePath !== null && nativeExecHelperInstalled(nativePath),
    });
    this.resolvedExecHandler = resolved.handler;
    if (resolved.unmet) this.log.warn({ reason: resolved.unmet }, "execHandler native cannot be had; probe and hook commands run through Docker's exec");
    if (resolved.handler === 'native' && nativePath !== null) {
      this.native = new NativeExec({
        inspect: (id) => this.inspect(id, `inspect container ${short(id)} for exec`),
        helper: new NativeExecHelper(nativePath),
        logger: this.log,
      });
    }
  }

  /** How bounded execs run: native until the helper turns out unusable (another protocol), then docker. */
  get execHandler(): 'docker' | 'native' {
    return this.native?.enabled === false ? 'docker' : this.resolvedExecHandler;
  }

  // ---- version and local images ---------------------------------------------------

  async version(): Promise<RuntimeVersion> {
    const docker = this.docker as unknown as { version(o: { abortSignal: AbortSignal }): Promise<Docker.DockerVersion> };
    const v = await this.call('read the Docker version', (signal) => docker.version({ abortSignal: signal }));
    return { runtimeName: 'docker', runtimeVersion: v.Version, runtimeApiVersion: v.ApiVersion };
  }

  /** Whether `ref` names one of the images nodelet builds itself (and must never pull). */
  isLocalBuildableImage(ref: string): boolean {
    return this.localBuilderFor(ref) !== undefined;
  }

  /** Builds the pause and busybox images when they are missing. */
  async ensureLocalImages(): Promise<void> {
    for (const tag of this.localImages.keys()) await this.ensureLocalImage(tag);
  }

  private localBuilderFor(ref: string): { tag: string; build: LocalImageBuilder } | undefined {
    let normalized: string;
    try {
      normalized = normalizeImageReference(ref).replace(/^docker\.io\//, '');
    } catch {
      return undefined;
    }
    const build = this.localImages.get(normalized);
    return build ? { tag: normalized, build } : undefined;
  }

  /** Builds one local image if missing; concurrent callers share one build. */
  private async ensureLocalImage(ref: string): Promise<void> {
    const local = this.localBuilderFor(ref);
    if (!local) throw new RuntimeError('ImageNotPresent', `image "${ref}" is not one nodelet can build`);
    let build = this.localBuilds.get(local.tag);
    if (!build) {
      build = (async () => {
        if (await this.imageStatus(local.tag)) return;
        this.log.info({ image: local.tag }, 'building local image from host binaries');
        await this.call(`build local image ${local.tag}`, () => local.build(this.docker, local.tag), {
          timeoutMs: Math.max(this.requestTimeoutMs, LOCAL_IMAGE_BUILD_TIMEOUT_MS),
        });
      })().finally(() => this.localBuilds.delete(local.tag));
      this.localBuilds.set(local.tag, build);
    }
    await build;
  }

  // ---- sandboxes --------------------------------------------------------------------

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    await this.ensureSandboxImage(config.image);
    const options = sandboxCreateOptions(config);
    const id = await this.createNamed(options, 'sandbox');
    const name = options.name;
    try {
      await this.call(`start sandbox ${name}`, (signal) => this.docker.getContainer(id).start({ abortSignal: signal }), {
        failure: StartContainerError,
      });
      if (config.dns && config.namespaces.network !== 'NODE') await this.writeResolvConf(id, name, config.dns);
    } catch (err) {
      // A half-made sandbox is of no use to anyone: do not leave it behind.
      await this.removeContainerQuietly(id);
      throw err;
    }
    if (config.namespaces.network !== 'NODE') await this.enableHairpin(config.networkName);
    this.log.debug({ pod: `${config.metadata.namespace}/${config.metadata.name}`, uid: config.metadata.uid, sandbox: short(id) }, 'sandbox started');
    return id;
  }

  /**
   * Hairpin mode on the pod bridge's ports (see bridge-hairpin.ts), so a pod can reach
   * itself through a Service. A failure costs only that, so it is logged, not thrown.
   */
  private async enableHairpin(networkName: string): Promise<void> {
    try {
      let bridge = this.bridgeNames.get(networkName);
      if (bridge === undefined) {
        const info = (await this.call(`inspect network ${networkName}`, () => this.docker.getNetwork(networkName).inspect())) as {
          Driver?: string;
          Id?: string;
          Options?: Record<string, string>;
        };
        // Docker names a bridge it was not told to name br-<first 12 of the network id>.
        bridge = info.Driver !== 'bridge' ? '' : (info.Options?.['com.docker.network.bridge.name'] ?? `br-${(info.Id ?? '').slice(0, 12)}`);
        this.bridgeNames.set(networkName, bridge);
      }
      if (bridge === '') return;
      const ports = await enableHairpinOnBridgePorts(bridge);
      if (ports.length > 0) this.log.debug({ bridge, ports }, 'hairpin mode on for pod bridge ports');
    } catch (err) {
      this.log.warn({ err, network: networkName }, 'could not turn hairpin mode on for the pod bridge; a pod reaching itself through a Service will hang');
    }
  }

  /** The nodelet pause image is built when missing, never pulled; any other sandbox image is pulled. */
  private async ensureSandboxImage(ref: string): Promise<void> {
    if (await this.imageStatus(ref)) return;
    if (this.isLocalBuildableImage(ref)) await this.ensureLocalImage(ref);
    else await this.pullImage(ref);
  }

  /**
   * Docker made the file at ResolvConfPath when the sandbox started; containers that
   * join the sandbox's network get the same path, so one write serves the whole pod.
   */
  private async writeResolvConf(id: string, name: string, dns: DNSConfig): Promise<void> {
    const info = await this.inspect(id, `inspect sandbox ${name}`);
    if (!info.ResolvConfPath) throw new GenericRuntimeError(`write resolv.conf of sandbox ${name}: Docker reports no ResolvConfPath`);
    try {
      await writeFile(info.ResolvConfPath, resolvConfContent(dns));
    } catch (err) {
      throw new GenericRuntimeError(`write resolv.conf of sandbox ${name} at ${info.ResolvConfPath}: ${(err as Error).message}`, { cause: err });
    }
  }

  async stopPodSandbox(id: string): Promise<void> {
    // CRI: stopping a sandbox stops every process in it; the worker normally stopped them gracefully already.
    const running = await this.listRaw({ [LABEL_SANDBOX_ID]: id }, { running: true });
    await Promise.all(running.map((c) => this.dockerStop(c.Id, 0)));
    await this.dockerStop(id, SANDBOX_STOP_TIMEOUT_SECONDS);
  }

  async removePodSandbox(id: string): Promise<void> {
    // CRI: removing a sandbox removes its containers, forcibly if they still run.
    const members = await this.listRaw({ [LABEL_SANDBOX_ID]: id });
    await Promise.all(members.map((c) => this.removeContainer(c.Id)));
    await this.removeContainer(id);
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const info = await this.inspect(id, `inspect sandbox ${short(id)}`);
    if (info.Config?.Labels?.[LABEL_TYPE] !== TYPE_SANDBOX)
      throw new NotFoundError(`inspect sandbox ${short(id)}: container ${short(id)} is not a pod sandbox`);
    return sandboxStatusFromInspect(info);
  }

  async listPodSandboxes(filter?: LabelFilter): Promise<PodSandboxSummary[]> {
    const list = await this.listRaw({ ...filter?.labels, [LABEL_TYPE]: TYPE_SANDBOX });
    return list.map(sandboxSummaryFromList);
  }

  // ---- containers -------------------------------------------------------------------

  async createContainer(podSandboxId: string, config: ContainerConfig, sandbox: PodSandboxConfig): Promise<string> {
    // The image manager pulled (or refused) already: a missing image is an error here, never a pull.
    const seccomp = config.securityContext.seccomp;
    const profile =
      seccomp?.type === 'Localhost' && !config.securityContext.privileged
        ? await readLocalhostProfile(this.seccompProfileRoot, seccomp.localhostProfile, config.metadata.name)
        : undefined;
    return this.createNamed(containerCreateOptions(podSandboxId, config, sandbox, profile), 'container');
  }

  async startContainer(id: string): Promise<void> {
    await this.call(
      `start container ${short(id)}`,
      (signal) =>
        this.docker
          .getContainer(id)
          .start({ abortSignal: signal })
          .catch((err: unknown) => {
            if (!isTolerated(err, [304])) throw err; // already running
          }),
      { failure: StartContainerError },
    );
  }

  async stopContainer(id: string, timeoutSeconds: number, signal?: string): Promise<void> {
    const info = await this.inspectOrUndefined(id);
    if (!info?.State?.Running) return;
    const seconds = Math.max(0, Math.ceil(timeoutSeconds));
    const wanted = normalizeSignal(signal);
    const own = normalizeSignal((info.Config as { StopSignal?: string } | undefined)?.StopSignal) ?? DEFAULT_STOP_SIGNAL;
    if (wanted === undefined || wanted === own) {
      await this.dockerStop(id, seconds);
      return;
    }
    // `docker stop` only knows the container's own stop signal (API 1.41): send ours, wait, then kill.
    await this.dockerKill(id, wanted);
    if (await this.waitForExit(id, seconds * 1000)) return;
    await this.dockerKill(id, 'SIGKILL');
    await this.waitForExit(id, this.requestTimeoutMs);
  }

  async removeContainer(id: string): Promise<void> {
    this.native?.forget(id);
    await this.call(`remove container ${short(id)}`, (signal) =>
      this.docker
        .getContainer(id)
        .remove({ force: true, v: true, abortSignal: signal })
        .catch((err: unknown) => {
          // Gone already, or being removed by someone else: either way it will not be there.
          if (!isTolerated(err, [404, 409])) throw err;
        }),
    );
  }

  async listContainers(filter?: LabelFilter & { podSandboxId?: string }): Promise<ContainerSummary[]> {
    const labels: Record<string, string> = { ...filter?.labels, [LABEL_TYPE]: TYPE_CONTAINER };
    if (filter?.podSandboxId) labels[LABEL_SANDBOX_ID] = filter.podSandboxId;
    const list = await this.listRaw(labels);
    return list.map(containerSummaryFromList);
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    return containerStatusFromInspect(await this.inspect(id, `inspect container ${short(id)}`));
  }

  /** Creates a container; on a name conflict (a leftover with the same attempt) retries once under a suffixed name. */
  private async createNamed(options: DockerCreateOptions, kind: 'sandbox' | 'container'): Promise<string> {
    const attempt = async (opts: DockerCreateOptions) => {
      const what = `create ${kind} ${opts.name}`;
      const created = await this.call(
        what,
        (signal) =>
          this.docker.createContainer({ ...opts, abortSignal: signal }).catch((err: unknown) => {
            throw classifyCreateFailure(err, what);
          }),
        { failure: CreateContainerError },
      );
      return created.id;
    };
    try {
      return await attempt(options);
    } catch (err) {
      if (!(isRuntimeError(err) && httpStatusOf(err.cause) === 409)) throw err;
      const renamed = { ...options, name: withConflictSuffix(options.name) };
      this.log.warn({ name: options.name, renamed: renamed.name }, 'container name in use; creating under a suffixed name');
      return attempt(renamed);
    }
  }

  private async dockerStop(id: string, seconds: number): Promise<void> {
    await this.call(
      `stop container ${short(id)}`,
      (signal) =>
        this.docker
          .getContainer(id)
          .stop({ t: seconds, abortSignal: signal })
          .catch((err: unknown) => {
            if (!isTolerated(err, [304, 404])) throw err; // stopped or gone already
          }),
      { timeoutMs: this.requestTimeoutMs + seconds * 1000 },
    );
  }

  private async dockerKill(id: string, signal: string): Promise<void> {
    await this.call(`send ${signal} to container ${short(id)}`, (abortSignal) =>
      this.docker
        .getContainer(id)
        .kill({ signal, abortSignal })
        .catch((err: unknown) => {
          if (!isTolerated(err, [404, 409])) throw err; // gone or not running any more
        }),
    );
  }

  /** True when the container stopped within `ms`. */
  private async waitForExit(id: string, ms: number): Promise<boolean> {
    const deadline = AbortSignal.timeout(Math.max(1, ms));
    try {
      await this.docker.getContainer(id).wait({ condition: 'not-running', abortSignal: deadline });
      return true;
    } catch (err) {
      if (deadline.aborted) return false;
      if (isTolerated(err, [404])) return true;
      throw toRuntimeError(err, `wait for container ${short(id)} to stop`, this.endpoint);
    }
  }

  private async inspect(id: string, what: string): Promise<Docker.ContainerInspectInfo> {
    return this.call(what, (signal) => this.docker.getContainer(id).inspect({ abortSignal: signal }));
  }

  private async inspectOrUndefined(id: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.inspect(id, `inspect container ${short(id)}`);
    } catch (err) {
      if (isRuntimeError(err, 'NotFound')) return undefined;
      throw err;
    }
  }

  private async removeContainerQuietly(id: string): Promise<void> {
    try {
      await this.removeContainer(id);
    } catch (err) {
      this.log.warn({ container: short(id), err: (err as Error).message }, 'could not remove a half-made container');
    }
  }

  private async listRaw(labels: Record<string, string>, options: { running?: boolean } = {}): Promise<Docker.ContainerInfo[]> {
    const filters: Record<string, string[]> = { label: labelFilter(labels) };
    if (options.running) filters['status'] = ['running'];
    return this.call('list containers', (signal) => this.docker.listContainers({ all: !options.running, filters, abortSignal: signal }));
  }

  // ---- images -----------------------------------------------------------------------

  async imageStatus(ref: string): Promise<ImageInfo | undefined> {
    // Validated first: the reference becomes part of a URL path.
    parseImageReference(ref);
    const info = await this.call(`inspect image ${ref}`, () =>
      this.docker
        .getImage(ref)
        .inspect()
        .catch((err: unknown) => {
          if (isTolerated(err, [404])) return undefined;
          throw err;
        }),
    );
    return info ? imageInfoFromInspect(info) : undefined;
  }

  async pullImage(ref: string, signal?: AbortSignal): Promise<ImageInfo> {
    const parsed = parseImageReference(ref);
    const pull: Parameters<typeof pullThroughDocker>[2] = {
      ref,
      parsed,
      endpoint: this.endpoint,
      progressDeadlineMs: Math.max(this.requestTimeoutMs, PULL_PROGRESS_DEADLINE_MS),
    };
    if (signal) pull.signal = signal;
    await pullThroughDocker(this.docker, this.call, pull);
    const pulled = parsed.digest ? `${imageName(parsed)}@${parsed.digest}` : normalizeImageReference(ref);
    const info = await this.imageStatus(pulled);
    if (!info) throw new ImagePullError(`pull image "${ref}": Docker reported success but has no image ${pulled}`);
    return info;
  }

  async removeImage(ref: string): Promise<void> {
    parseImageReference(ref);
    await this.call(`remove image ${ref}`, (signal) =>
      this.docker
        .getImage(ref)
        .remove({ abortSignal: signal })
        .catch((err: unknown) => {
          if (!isTolerated(err, [404])) throw err; // removed already
        }),
    );
  }

  async listImages(): Promise<ImageInfo[]> {
    const list = await this.call('list images', (signal) => this.docker.listImages({ abortSignal: signal }));
    return list.map((image) => ({
      id: image.Id,
      repoTags: (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      repoDigests: (image.RepoDigests ?? []).filter((d) => d !== '<none>@<none>'),
      size: image.Size,
    }));
  }

  // ---- streams ----------------------------------------------------------------------

  async exec(containerId: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    try {
      const viaNative = await this.native?.exec(containerId, cmd, options);
      if (viaNative) return viaNative;
      return await runExec(this.rawApi, containerId, cmd, options, this.call);
    } catch (err) {
      throw toRuntimeError(err, `exec in container ${short(containerId)}`, this.endpoint);
    }
  }

  /** Container output, stdout and stderr merged in order, with Docker's frame headers stripped. */
  async logs(containerId: string, options: LogOptions = {}): Promise<Readable> {
    const info = await this.inspect(containerId, `read logs of container ${short(containerId)}`);
    return openLogStream(this.docker, this.call, containerId, info.Config?.Tty === true, options);
  }

  async stats(containerId: string): Promise<ContainerStats> {
    const container = this.docker.getContainer(containerId) as unknown as {
      stats(o: { stream: false; 'one-shot': true; abortSignal: AbortSignal }): Promise<Docker.ContainerStats>;
    };
    const raw = await this.call(`read stats of container ${short(containerId)}`, (abortSignal) =>
      container.stats({ stream: false, 'one-shot': true, abortSignal }),
    );
    return containerStatsFromDocker(raw, new Date());
  }

  async *events(signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    if (signal.aborted) return;
    let stream: Readable;
    try {
      stream = (await this.call('watch Docker events', (abortSignal) => this.docker.getEvents({ filters: eventFilters(), abortSignal }), {
        signal,
      })) as Readable;
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    try {
      for await (const message of jsonMessages(stream)) {
        const event = runtimeEventFromDocker(message);
        if (event) yield event;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw new RuntimeUnavailableError(`watch Docker events: the stream from ${this.endpoint} broke: ${(err as Error).message}`, { cause: err });
    } finally {
      stream.destroy();
    }
  }
}

/** A create refused by Docker: a missing image is ImageNotPresent (the agent pulls first), the rest CreateContainer. */
function classifyCreateFailure(err: unknown, what: string): unknown {
  const status = httpStatusOf(err);
  if (status === undefined) return err; // socket-level: mapped as "unavailable" by the caller
  const message = dockerMessage(err);
  if (status === 404 && /no such image/i.test(message)) return new RuntimeError('ImageNotPresent', `${what}: ${message}`, { cause: err });
  return new CreateContainerError(`${what}: ${message}`, { cause: err });
}

function imageInfoFromInspect(info: Docker.ImageInspectInfo): ImageInfo {
  const config = info.Config as (Docker.ImageInspectInfo['Config'] & { StopSignal?: string }) | null | undefined;
  const image: ImageInfo = {
    id: info.Id,
    repoTags: info.RepoTags ?? [],
    repoDigests: info.RepoDigests ?? [],
    size: info.Size,
  };
  if (config?.User) image.user = config.User;
  if (config?.StopSignal) image.stopSignal = config.StopSignal;
  return image;
}
