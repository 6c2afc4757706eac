// Where dockerd listens unless told otherwise: the one default of the engine's
// socket, for the runtime endpoint, the runtime and the pod network driver alike.
export const DOCKER_SOCKET_PATH = '/var/run/docker.sock';
