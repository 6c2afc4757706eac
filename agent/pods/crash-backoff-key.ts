// The key of a container's crash back-off in the per-key Backoff (api/backoff.ts).

/**
 * The crash back-off key of one container of one pod. The spec hash is part of it
 * (as in kubelet), so an edited container starts with a fresh back-off.
 */
export function backoffKey(podUid: string, containerName: string, containerHash: string): string {
  return `${podUid}/${containerName}/${containerHash}`;
}
