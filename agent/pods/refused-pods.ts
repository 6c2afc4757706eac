// Admission bookkeeping of the pod manager: asks the admit hook about each new pod
// and keeps the pods it refused. A refused pod never gets a worker; it is recorded
// Failed with the refusal's reason, like any other pod, so `nodelet pods` and the
// apiserver show why it is not running.
import type { Pod, PodStatus } from '../api/types.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { Logger } from '../log/logger.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Clock } from '../api/clock.js';
import { formatTime } from '../api/time.js';

export type AdmitResult = { admit: true } | { admit: false; reason: string; message: string };

export interface RefusedPodsDeps {
  /** Decides whether a new pod may run here, given the pods already admitted. */
  admit?: (pod: Pod, admitted: Pod[]) => AdmitResult;
  events: EventRecorder;
  store: PodStateStore;
  clock: Clock;
  logger: Logger;
  onStatus?: (pod: Pod, status: PodStatus) => void;
}

export class RefusedPods {
  /** Refused pods by UID, with the Failed status they were given. */
  private readonly refused = new Map<string, Pod>();

  constructor(private readonly deps: RefusedPodsDeps) {}

  /**
   * Whether `pod` may run. `adopted`: it already runs here (an agent restart), so it
   * was admitted before and is never refused now. A refusal is recorded here.
   */
  admit(pod: Pod, admitted: () => Pod[], adopted: boolean): boolean {
    const verdict = this.deps.admit && !adopted ? this.deps.admit(pod, admitted()) : { admit: true as const };
    if (verdict.admit) return true;
    this.refuse(pod, verdict.reason, verdict.message);
    return false;
  }

  has(uid: string): boolean {
    return this.refused.has(uid);
  }

  /** Forgets a refused pod (deleted, or gone from its source); false when it was not refused. */
  delete(uid: string): boolean {
    return this.refused.delete(uid);
  }

  /** Every refused pod, carrying its Failed status. */
  pods(): Pod[] {
    return [...this.refused.values()];
  }

  private refuse(pod: Pod, reason: string, message: string): void {
    const { events, store, clock, logger } = this.deps;
    const uid = pod.metadata.uid ?? '';
    logger.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid, reason }, `pod refused by admission: ${message}`);
    events.record(pod, 'Warning', reason, message);
    const status: PodStatus = {
      phase: 'Failed',
      reason,
      message,
      startTime: formatTime(clock.now()),
    };
    this.refused.set(uid, { ...pod, status });
    this.deps.onStatus?.(pod, status);
    // Recorded like any other pod so `nodelet pods` shows why it is not running.
    void store
      .savePod(pod)
      .then(() => store.saveStatus(uid, status))
      .catch((err) => logger.warn({ err: (err as Error).message }, 'cannot record refused pod'));
  }
}
