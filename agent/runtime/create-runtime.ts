// The one place the agent (and the CLI) makes a Runtime, and the only file outside
// an engine's folder that names an engine. Docker is the only engine for now; the
// endpoint is a CRI-style URL, so another engine is a folder beside docker/ and a
// line here.
import type { Logger } from '../log/logger.js';
import { DockerRuntime } from './docker/docker-runtime.js';
import type { PodNetworkDriver } from './pod-network-driver.js';
import { DEFAULT_RUNTIME_ENDPOINT, socketPathOf } from './runtime-endpoint.js';
import type { ExecHandler, Runtime } from './runtime.js';

/** A Runtime with what the agent needs of its engine besides CRI's calls. */
export type EngineRuntime = Runtime & {
  /** Builds nodelet's own images (pause, busybox) from host binaries when they are missing. */
  ensureLocalImages(): Promise<void>;
  /** Whether `ref` is one of those images, which must never be pulled. */
  isLocalBuildableImage(ref: string): boolean;
  /** How bounded execs (probes, hooks) run on this host, once the asked-for handler is resolved. */
  readonly execHandler: Exclude<ExecHandler, 'auto'>;
  /** The engine's side of the pod network, on the same endpoint. */
  readonly podNetwork: PodNetworkDriver;
};

export interface CreateRuntimeOptions {
  /** `unix:///path/to/engine.sock` or a plain absolute socket path (default: Docker's). */
  endpoint?: string;
  requestTimeoutMs?: number;
  logger?: Logger;
  /** How probe and hook execs run; see DockerRuntimeOptions.execHandler (default: docker). */
  execHandler?: ExecHandler;
  /** Where Localhost seccomp profiles live. */
  seccompProfileRoot?: string;
  /** The native exec helper; null = do without it (see DockerRuntimeOptions). */
  nativeExecHelperPath?: string | null;
}

export function createRuntime(options: CreateRuntimeOptions = {}): EngineRuntime {
  const runtimeOptions: ConstructorParameters<typeof DockerRuntime>[0] = {
    socketPath: socketPathOf(options.endpoint ?? DEFAULT_RUNTIME_ENDPOINT),
  };
  if (options.requestTimeoutMs !== undefined) runtimeOptions.requestTimeoutMs = options.requestTimeoutMs;
  if (options.logger) runtimeOptions.logger = options.logger;
  if (options.execHandler) runtimeOptions.execHandler = options.execHandler;
  if (options.seccompProfileRoot) runtimeOptions.seccompProfileRoot = options.seccompProfileRoot;
  if (options.nativeExecHelperPath !== undefined) runtimeOptions.nativeExecHelperPath = options.nativeExecHelperPath;
  return new DockerRuntime(runtimeOptions);
}
