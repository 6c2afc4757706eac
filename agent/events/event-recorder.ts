// Kubernetes-style events about pods (Pulling, Created, Started, Killing, BackOff…).
// Standalone, they go to the log and a small in-memory ring the API can show; once
// joined to an apiserver, a recorder that posts them replaces this one.
import type { Pod } from '../api/types.js';
import { podKey } from '../api/types.js';
import type { Logger } from '../log/logger.js';

export type EventType = 'Normal' | 'Warning';

export interface PodEvent {
  pod: string;
  uid: string;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

export interface EventRecorder {
  record(pod: Pod, type: EventType, reason: string, message: string): void;
}

/** Logs every new event once and counts repeats, so a crash loop does not flood the log. */
export class LoggingEventRecorder implements EventRecorder {
  private readonly events = new Map<string, PodEvent>();

  constructor(
    private readonly logger: Logger,
    private readonly capacity = 1000,
  ) {}

  record(pod: Pod, type: EventType, reason: string, message: string): void {
    const key = `${pod.metadata.uid}\u0000${reason}\u0000${message}`;
    const now = new Date().toISOString();
    const existing = this.events.get(key);
    if (existing) {
      existing.count++;
      existing.lastTimestamp = now;
      this.events.delete(key);
      this.events.set(key, existing);
      return;
    }
    const event: PodEvent = {
      pod: podKey(pod),
      uid: pod.metadata.uid ?? '',
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    };
    this.events.set(key, event);
    if (this.events.size > this.capacity) this.events.delete(this.events.keys().next().value as string);
    const log = { pod: event.pod, uid: event.uid, event: reason };
    if (type === 'Warning') this.logger.warn(log, message);
    else this.logger.info(log, message);
  }

  list(): PodEvent[] {
    return [...this.events.values()];
  }
}
