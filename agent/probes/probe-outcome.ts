// What one run of a probe handler found. Handlers never throw for an unhealthy
// target (that is a 'failure'); they throw ProbeError only when the probe could not
// be run at all (a named port the container does not declare, the runtime refusing
// the exec), which kubelet reports as "probe errored" and does not count.

export type ProbeResult = 'success' | 'failure';

export interface ProbeOutcome {
  result: ProbeResult;
  /** For a failure, what an operator reads in the Unhealthy event; for a success, a note (may be empty). */
  message?: string;
  /** A success kubelet reports as a ProbeWarning event (an HTTP redirect to another host). */
  warning?: boolean;
  /** The HTTP status of the last response, for httpGet. */
  statusCode?: number;
  latencyMs: number;
}

/** The probe could not be run; its result is thrown away, as kubelet does. */
export class ProbeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeError';
  }
}

/**
 * The User-Agent kubelet sends (`kube-probe/<major>.<minor>`); applications match
 * on the `kube-probe/` prefix to keep probes out of their access logs.
 */
export const PROBE_USER_AGENT = 'kube-probe/1.33';

/** Milliseconds since `start` (a performance.now() reading), rounded to 0.01 ms. */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 100) / 100;
}

/** How a duration reads in messages, as Go prints one: "1s", "1.5s", "250ms". */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}
