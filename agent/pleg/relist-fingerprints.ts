// A pod's runtime state reduced to one string per relist: the IDs and states of
// its sandboxes and containers. Two relists that give a pod the same fingerprint
// saw nothing of it change, so its worker need not be woken.
import type { ContainerSummary, PodSandboxSummary } from '../runtime/runtime.js';
import { LABEL_POD_UID } from '../runtime/labels.js';
import type { RuntimePodLabels } from './pod-lifecycle-event.js';

export interface RelistSnapshot {
  /** Fingerprint by pod UID. */
  fingerprints: Map<string, string>;
  /** Labels by pod UID (of the last item listed for it: enough to rebuild an orphan). */
  labels: Map<string, RuntimePodLabels>;
}

export function relistSnapshot(sandboxes: readonly PodSandboxSummary[], containers: readonly ContainerSummary[]): RelistSnapshot {
  const states = new Map<string, string[]>();
  const labels = new Map<string, RuntimePodLabels>();
  for (const item of [...sandboxes, ...containers]) {
    const uid = item.labels[LABEL_POD_UID];
    if (!uid) continue;
    const entry = states.get(uid) ?? [];
    entry.push(`${item.id}:${item.state}`);
    states.set(uid, entry);
    labels.set(uid, item.labels);
  }
  const fingerprints = new Map<string, string>();
  for (const [uid, list] of states) fingerprints.set(uid, list.sort().join(','));
  return { fingerprints, labels };
}

/** UIDs present now whose fingerprint differs from the previous relist (new pods included). */
export function changedPods(previous: ReadonlyMap<string, string>, current: ReadonlyMap<string, string>): string[] {
  const changed: string[] = [];
  for (const [uid, fingerprint] of current) if (previous.get(uid) !== fingerprint) changed.push(uid);
  return changed;
}
