// Typed failures of turning a pod into runtime configuration. Each carries the
// Kubernetes reason that ends up in the pod status and a message naming the pod,
// the container and the field, so an operator knows what to fix.

/**
 * The container's configuration cannot be built (a bad quantity, a missing
 * ConfigMap…). kubelet reports this as the waiting reason CreateContainerConfigError
 * and retries on the next sync; nothing is created in the runtime.
 */
export class CreateContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  /** `namespace/name` of the pod. */
  readonly pod: string;
  readonly container: string;
  /** Field path inside the pod, e.g. `spec.containers[0].resources.limits.memory`. */
  readonly field: string;
  /** What is wrong, without the pod/container/field prefix. */
  readonly detail: string;

  constructor(args: { pod: string; container: string; field: string; detail: string }, options?: { cause?: unknown }) {
    super(`container "${args.container}" of pod ${args.pod}: ${args.field}: ${args.detail}`, options);
    this.name = 'CreateContainerConfigError';
    this.pod = args.pod;
    this.container = args.container;
    this.field = args.field;
    this.detail = args.detail;
  }
}

/** The pod itself is invalid (what API validation would have rejected); it cannot run as written. */
export class InvalidPodError extends Error {
  readonly reason = 'InvalidPod';
  readonly pod: string;
  readonly field: string;
  readonly detail: string;

  constructor(args: { pod: string; field: string; detail: string }, options?: { cause?: unknown }) {
    super(`pod ${args.pod}: ${args.field}: ${args.detail}`, options);
    this.name = 'InvalidPodError';
    this.pod = args.pod;
    this.field = args.field;
    this.detail = args.detail;
  }
}
