// The container engine's endpoint (kubelet's --container-runtime-endpoint): a
// CRI-style unix:// URL, its default, and the socket path it names. A module of its
// own, free of any engine client, so the configuration can read the default.
import { DOCKER_SOCKET_PATH } from './docker/docker-socket.js';

/** Docker is the engine nodelet runs on unless told otherwise. */
export const DEFAULT_RUNTIME_ENDPOINT = `unix://${DOCKER_SOCKET_PATH}`;

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
