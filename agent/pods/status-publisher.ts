// A pod's status as its worker publishes it: computed from the runtime snapshot,
// the waiting reasons, probe results and termination messages; saved to the pod's
// directory and handed to the status hook only when it changed. Holds the pod's
// current status, which the worker reads for phases, deadlines and restarts.
import type { Pod, PodStatus } from '../api/types.js';
import type { Logger } from '../log/logger.js';
import type { ProbeManager } from '../probes/probe-manager.js';
import type { PodStateStore } from '../state/pod-state-store.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Clock } from '../api/clock.js';
import { isTerminalPhase } from '../api/terminal-phase.js';
import { computePodStatus } from './pod-status.js';
import type { RuntimePodSnapshot } from './runtime-pod.js';
import type { WaitingOverrides } from './types.js';

export interface StatusPublisherDeps {
  store: Pick<PodStateStore, 'saveStatus' | 'saveProbeResults'>;
  probes?: Pick<ProbeManager, 'readiness' | 'started' | 'results'>;
  clock: Clock;
  /** Names the engine in each container's ID (`<runtimeType>://<id>`). */
  runtime: Pick<Runtime, 'runtimeType'>;
  hostIP: () => string;
  onStatus?: (pod: Pod, status: PodStatus) => void;
}

export interface StatusInput {
  pod: Pod;
  snap: RuntimePodSnapshot;
  waiting: WaitingOverrides;
  terminationMessages: Map<string, string>;
  /** The pod failed for good on the node (deadline exceeded, evicted). */
  failure?: { reason: string; message: string };
}

export class StatusPublisher {
  private status?: PodStatus;
  private lastSavedStatus = '';
  private lastProbeResults = '';

  constructor(
    private readonly uid: string,
    private readonly deps: StatusPublisherDeps,
    private readonly log: Logger,
    previous?: PodStatus,
  ) {
    this.status = previous;
  }

  get current(): PodStatus | undefined {
    return this.status;
  }

  /** Takes the status saved before an agent restart, unless one was computed since. */
  restore(previous: PodStatus | undefined): void {
    if (previous && !this.status) this.status = previous;
  }

  async publish(input: StatusInput): Promise<PodStatus> {
    const { pod, snap, failure } = input;
    const probes = this.deps.probes;
    const status = computePodStatus({
      pod,
      runtime: snap.status,
      previous: this.status,
      waiting: input.waiting,
      readiness: probes?.readiness(this.uid),
      started: probes?.started(this.uid),
      hostIP: this.deps.hostIP(),
      now: new Date(this.deps.clock.now()),
      terminationMessages: input.terminationMessages,
      runtimeType: this.deps.runtime.runtimeType,
    });
    if (pod.spec.hostNetwork && !status.podIP) {
      status.podIP = status.hostIP;
      status.podIPs = status.hostIPs;
    }
    // As kubelet: a failed pod turns terminal only once its containers have stopped; a
    // status computed while the kill is still to come keeps the phase it has.
    if (failure && !snap.status.containers.some((c) => c.state === 'running')) {
      status.phase = 'Failed';
      status.reason = failure.reason;
      status.message = failure.message;
    }
    // A pod that has finished keeps the IP it had, as kubelet reports it.
    if (isTerminalPhase(status.phase) && !status.podIP && this.status?.podIP) {
      status.podIP = this.status.podIP;
      status.podIPs = this.status.podIPs;
    }
    if (probes) {
      const results = JSON.stringify(probes.results(this.uid));
      if (results !== this.lastProbeResults) {
        this.lastProbeResults = results;
        await this.deps.store.saveProbeResults(this.uid, JSON.parse(results));
      }
    }
    const before = this.status?.phase;
    this.status = status;
    const serialized = JSON.stringify(status);
    if (serialized !== this.lastSavedStatus) {
      this.lastSavedStatus = serialized;
      if (before !== status.phase) this.log.info({ phase: status.phase }, `pod phase ${before ?? 'none'} -> ${status.phase}`);
      await this.deps.store.saveStatus(this.uid, status);
      this.deps.onStatus?.(pod, status);
    }
    return status;
  }
}
