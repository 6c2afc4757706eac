// The one place the agent (and the CLI) makes a Runtime. Docker is the only engine
// for now; the endpoint is a CRI-style URL so another engine can slot in here.
import type { Logger } from '../log/logger.js';
import { DockerRuntime } from './docker/docker-runtime.js';
import type { ExecHandler } from './docker/exec/nsenter-exec.js';
import type { Runtime } from './runtime.js';

export const DEFAULT_RUNTIME_ENDPOINT = 'unix:///var/run/docker.sock';

/** A Runtime that can also make nodelet's own images (pause, busybox) from host binaries. */
export type LocalImageRuntime = Runtime & {
  /** Builds the local pause and busybox images when they are missing. */
  ensureLocalImages(): Promise<void>;
  /** Whether `ref` is one of those images, which must never be pulled. */
  isLocalBuildableImage(ref: string): boolean;
  /** How bounded execs (probes, hooks) run on this host, once the asked-for handler is resolved. */
  readonly execHandler: 'docker' | 'nsenter';
};

export interface CreateRuntimeOptions {
  /** `unix:///path/to/docker.sock` or a plain absolute socket path. */
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

export class RuntimeEndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeEndpointError';
  }
}

/** The socket path of an endpoint; only local unix sockets are supported. */
export function socketPathOf(endpoint: string): string {
  const path = endpoint.startsWith('unix://') ? endpoint.slice('unix://'.length) : endpoint;
  if (!path.startsWith('/')) {
    throw new RuntimeEndpointError(`runtime endpoint "${endpoint}" must be unix:///absolute/path/to/docker.sock`);
  }
  return path;
}

export function createRuntime(options: CreateRuntimeOptions = {}): LocalImageRuntime {
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
