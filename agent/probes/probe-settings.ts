// A probe's timing and thresholds with Kubernetes' defaults, in milliseconds, and
// which probe a container declares for each type.
import type { Container, Pod, Probe } from '../api/types.js';

export type ProbeType = 'liveness' | 'readiness' | 'startup';
export const PROBE_TYPES: readonly ProbeType[] = ['startup', 'liveness', 'readiness'];

/** The v1 defaults (SetDefaults_Probe); initialDelaySeconds defaults to 0. */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** A positive integer field, else its default (the apiserver turns 0 and unset into the default). */
function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}

export function probeSettings(probe: Probe, type: ProbeType): ProbeSettings {
  const delay = probe.initialDelaySeconds;
  return {
    initialDelayMs: typeof delay === 'number' && Number.isFinite(delay) && delay > 0 ? Math.floor(delay) * 1000 : 0,
    periodMs: positive(probe.periodSeconds, PROBE_DEFAULTS.periodSeconds) * 1000,
    timeoutMs: positive(probe.timeoutSeconds, PROBE_DEFAULTS.timeoutSeconds) * 1000,
    // Validation refuses anything but 1 for liveness and startup; a restart must never wait for several successes.
    successThreshold: type === 'readiness' ? positive(probe.successThreshold, PROBE_DEFAULTS.successThreshold) : 1,
    failureThreshold: positive(probe.failureThreshold, PROBE_DEFAULTS.failureThreshold),
  };
}

export function probeOf(container: Container, type: ProbeType): Probe | undefined {
  switch (type) {
    case 'liveness':
      return container.livenessProbe;
    case 'readiness':
      return container.readinessProbe;
    case 'startup':
      return container.startupProbe;
  }
}

/** "Liveness", "Readiness", "Startup": how kubelet names probes in events. */
export function probeTypeTitle(type: ProbeType): string {
  return type[0]!.toUpperCase() + type.slice(1);
}

/** Containers that can carry probes: regular ones and sidecars (init containers with restartPolicy Always). */
export function probedContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...pod.spec.containers];
}

/**
 * The grace period for killing a container that failed its liveness or startup
 * probe: the probe's own terminationGracePeriodSeconds wins over the pod's.
 */
export function probeKillGraceSeconds(pod: Pod, container: Container, failed: 'liveness' | 'startup'): number {
  return probeOf(container, failed)?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
}
