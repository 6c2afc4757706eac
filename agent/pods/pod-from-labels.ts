// Rebuilding from runtime labels: a pod found in the runtime that no source wants
// any more (an orphan) is stopped and removed with only what its containers'
// labels say — its name, grace period, and each container's preStop hook and ports.
import type { Container, Pod } from '../api/types.js';
import { LABEL_CONTAINER_PORTS, LABEL_PRESTOP_HANDLER, LABEL_TERMINATION_GRACE } from '../runtime/labels.js';

/**
 * The part of a container spec an orphan's stop needs (its preStop hook and ports),
 * from the labels written when it was created; undefined when it has no hook.
 */
export function containerFromLabels(name: string, labels: Record<string, string>): Container | undefined {
  const handler = labels[LABEL_PRESTOP_HANDLER];
  if (!handler) return undefined;
  try {
    const ports = labels[LABEL_CONTAINER_PORTS];
    return { name, image: '', lifecycle: { preStop: JSON.parse(handler) }, ...(ports ? { ports: JSON.parse(ports) } : {}) };
  } catch {
    return undefined; // a label someone edited by hand: stop without the hook
  }
}

/** Reconstructs enough of a pod from runtime labels to terminate an orphan. */
export function orphanPodFromLabels(uid: string, labels: Readonly<Record<string, string>>, name: string, namespace: string): Pod {
  const grace = Number(labels[LABEL_TERMINATION_GRACE]);
  return {
    metadata: { name, namespace, uid },
    spec: { containers: [], terminationGracePeriodSeconds: Number.isFinite(grace) ? grace : 30 },
  };
}
