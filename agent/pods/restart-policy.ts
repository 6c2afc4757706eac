// Whether a container that is not running should run again, by the pod's (or, for
// sidecars, the container's own) restart policy — kubelet's ShouldContainerBeRestarted.
import type { Container, Pod, RestartPolicy } from '../api/types.js';

/** The pod's restart policy; the API's default is Always. */
export function podRestartPolicy(pod: Pod): RestartPolicy {
  return pod.spec.restartPolicy ?? 'Always';
}

/** An init container with restartPolicy Always: it keeps running beside the app containers. */
export function isSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

/** kubelet's shouldRestartOnFailure: everything but Never restarts what failed. */
export function shouldRestartOnFailure(pod: Pod): boolean {
  return podRestartPolicy(pod) !== 'Never';
}

/**
 * True when a new instance of the container should be started.
 * `lastExitCode` is the exit code of its newest finished run; undefined means it
 * has no finished run to judge by (never created, created but never started, or
 * in an unknown state), and such a container is always started.
 * A pod being deleted never restarts anything.
 */
export function shouldContainerBeRestarted(container: Container, pod: Pod, lastExitCode: number | undefined): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  if (lastExitCode === undefined) return true;
  const policy: RestartPolicy = container.restartPolicy ?? podRestartPolicy(pod);
  switch (policy) {
    case 'Always':
      return true;
    case 'OnFailure':
      return lastExitCode !== 0;
    case 'Never':
      return false;
  }
}
