// Settings every nodelet container gets from Docker, sandbox or not. Functions, not
// shared constants, so no create-options object aliases another's.
import type Docker from 'dockerode';

/** The agent owns restarts: Docker must never restart a container on its own. */
export function noRestartPolicy(): Docker.HostRestartPolicy {
  return { Name: 'no' };
}

/** The agent owns health (probes): image HEALTHCHECKs are switched off. */
export function noHealthcheck(): Docker.HealthConfig {
  return { Test: ['NONE'] };
}

/**
 * kubelet never rotated Docker's json-file logs itself: Docker does, per container,
 * with these options (kubelet's defaults are 10 Mi × 5).
 */
export function jsonFileLogConfig(maxSize = '10Mi', maxFiles = 5): { Type: 'json-file'; Config: Record<string, string> } {
  return { Type: 'json-file', Config: { 'max-size': maxSize, 'max-file': String(maxFiles) } };
}
