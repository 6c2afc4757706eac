// The generator's health as kubelet judges its PLEG: healthy while the last
// successful relist started within the threshold (3 minutes). A relist that hangs
// or keeps failing makes the node NotReady, with kubelet's words for why.

/** kubelet's RelistThreshold. */
export const DEFAULT_RELIST_THRESHOLD_MS = 3 * 60_000;

export type PlegHealth = { healthy: true } | { healthy: false; message: string };

/** `lastRelistAt`: when the last successful relist started; undefined before the first one. */
export function plegHealth(lastRelistAt: number | undefined, now: number, thresholdMs: number): PlegHealth {
  if (lastRelistAt === undefined) return { healthy: false, message: 'pleg has yet to be successful' };
  const elapsed = now - lastRelistAt;
  if (elapsed > thresholdMs) {
    return { healthy: false, message: `pleg was last seen active ${goDuration(elapsed)} ago; threshold is ${goDuration(thresholdMs)}` };
  }
  return { healthy: true };
}

/** A duration as Go's time.Duration prints it, to the millisecond: "3m0s", "1h2m3.5s", "250ms", "0s". */
export function goDuration(ms: number): string {
  if (ms < 0) return `-${goDuration(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  const s = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, '')}s`;
  if (hours) return `${hours}h${minutes}m${s}`;
  if (minutes) return `${minutes}m${s}`;
  return s;
}

/**
 * The generator as one of the node's health checks (structurally the node
 * controller's NodeHealthCheck): Ready turns False with "PLEG is not healthy: …".
 */
export function plegHealthCheck(pleg: { healthy(): PlegHealth }): { name: string; check(): string | undefined } {
  return {
    name: 'PLEG',
    check() {
      const health = pleg.healthy();
      return health.healthy ? undefined : health.message;
    },
  };
}
