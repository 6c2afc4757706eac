// Labels on everything nodelet creates: the runtime alone tells which pod, node and
// spec a container belongs to, so a restarted agent (or the CLI) can rebuild its view.
// Keys follow kubelet's so operator tooling that knows them keeps working.

export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
/** 'podsandbox' or 'container', as cri-dockerd marks them. */
export const LABEL_TYPE = 'io.kubernetes.docker.type';
export const LABEL_MANAGED = 'nodelet.io/managed';
export const LABEL_NODE = 'nodelet.io/node';

// Annotation-like data (kubelet keeps these as annotations; Docker only has labels).
export const LABEL_CONTAINER_HASH = 'io.kubernetes.container.hash';
export const LABEL_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const LABEL_TERMINATION_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
export const LABEL_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const LABEL_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const LABEL_CONTAINER_KIND = 'nodelet.io/container-kind'; // 'init' | 'regular'
/** JSON of lifecycle.preStop, so a pod deleted while the agent was down still gets its hook. */
export const LABEL_PRESTOP_HANDLER = 'io.kubernetes.container.preStopHandler';
/** JSON of the container's ports (a preStop httpGet may name one). */
export const LABEL_CONTAINER_PORTS = 'io.kubernetes.container.ports';
export const LABEL_POD_SOURCE = 'nodelet.io/pod-source';

export const TYPE_SANDBOX = 'podsandbox';
export const TYPE_CONTAINER = 'container';

/** Labels every object of one node carries; used to list only that node's things. */
export function nodeSelectorLabels(nodeName: string): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_NODE]: nodeName };
}
