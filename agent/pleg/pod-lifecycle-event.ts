// What the pod lifecycle event generator tells its listeners. Events carry no
// runtime state of their own: a woken pod worker reads its pod from the runtime,
// so an event only says whom to wake and when the runtime came and went.

/** A pod found in the runtime by the last relist: the labels of one of its sandboxes or containers. */
export type RuntimePodLabels = Readonly<Record<string, string>>;

export type PodLifecycleEvent =
  /** Something of this pod changed in the runtime (a relist saw it, or an engine event said so). */
  | { type: 'PodChanged'; uid: string }
  /** A relist failed: the runtime is unreachable or erring. Sent once per outage. */
  | { type: 'RuntimeDown' }
  /** A relist succeeded after a failed one: every pod may have changed meanwhile. */
  | { type: 'RuntimeUp' }
  /** A relist completed; `pods` is every pod of this node the runtime holds, by UID. */
  | { type: 'Relisted'; pods: ReadonlyMap<string, RuntimePodLabels> };

export type PodLifecycleListener = (event: PodLifecycleEvent) => void;
