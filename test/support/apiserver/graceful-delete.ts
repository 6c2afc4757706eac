// What a DELETE does to an object, as the real registry decides it (rest.BeforeDelete
// with the pod strategy's CheckGracefulDelete). Pure: the registry applies the result.
import { formatTime } from './time-fields.js';

export type DeletionDecision =
  /** Remove the object now (kinds without graceful deletion). */
  | { action: 'remove' }
  /** Graceful deletion already pending with a grace period no longer than asked: change nothing. */
  | { action: 'pending' }
  /** Write deletionTimestamp/deletionGracePeriodSeconds; a grace period of 0 is then removed at once. */
  | { action: 'mark'; deletionTimestamp: string; deletionGracePeriodSeconds: number };

export interface DeletableObject {
  metadata: { deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
  spec?: unknown;
  status?: unknown;
}

function field<T>(o: unknown, key: string): T | undefined {
  return typeof o === 'object' && o !== null ? ((o as Record<string, unknown>)[key] as T | undefined) : undefined;
}

/**
 * `requestedGrace` is DeleteOptions.gracePeriodSeconds (negative values already
 * turned into 1, as the real server does). Only pods are deleted gracefully.
 */
export function decideDeletion(obj: DeletableObject, graceful: boolean, requestedGrace: number | undefined, now: Date): DeletionDecision {
  if (!graceful) return { action: 'remove' };
  const meta = obj.metadata;
  if (meta.deletionTimestamp !== undefined) {
    const current = meta.deletionGracePeriodSeconds;
    if (current === undefined || current === 0) return { action: 'remove' };
    // Once deletion is pending a caller may only shorten the grace period, counted from the first request.
    if (requestedGrace === undefined || requestedGrace >= current) return { action: 'pending' };
    const requestedAt = Date.parse(meta.deletionTimestamp) - current * 1000;
    return { action: 'mark', deletionTimestamp: formatTime(new Date(requestedAt + requestedGrace * 1000)), deletionGracePeriodSeconds: requestedGrace };
  }
  let period = requestedGrace ?? field<number>(obj.spec, 'terminationGracePeriodSeconds') ?? 30;
  // Nobody runs an unscheduled pod, and a terminated one has nothing left to stop: no grace.
  if (!field<string>(obj.spec, 'nodeName')) period = 0;
  const phase = field<string>(obj.status, 'phase');
  if (phase === 'Succeeded' || phase === 'Failed') period = 0;
  return { action: 'mark', deletionTimestamp: formatTime(new Date(now.getTime() + period * 1000)), deletionGracePeriodSeconds: period };
}
