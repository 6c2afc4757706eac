// The proxy's metrics in the Prometheus text format (0.0.4), written by hand: four
// series do not justify a client library. Names mirror kube-proxy's
// (sync_proxy_rules_duration_seconds, …) under our own prefix.
import type { SyncKind } from './sync-runner.js';

/** kube-proxy's buckets: 1 ms doubling to ~16 s. */
export const SYNC_DURATION_BUCKETS: readonly number[] = Array.from({ length: 15 }, (_, i) => 2 ** i / 1000);

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

class Histogram {
  readonly counts = new Array<number>(SYNC_DURATION_BUCKETS.length).fill(0);
  sum = 0;
  count = 0;

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < SYNC_DURATION_BUCKETS.length; i++) if (value <= SYNC_DURATION_BUCKETS[i]!) this.counts[i]!++;
  }
}

/** Go's strconv.FormatFloat(v, 'g', -1, 64) as Prometheus prints it, close enough: plain JS numbers, +Inf spelled out. */
function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

export class ProxyMetrics {
  private readonly durations: Record<SyncKind, Histogram> = { full: new Histogram(), partial: new Histogram() };
  private rulesWritten = 0;
  private failures = 0;
  private lastSyncSeconds = 0;

  observeSync(kind: SyncKind, seconds: number): void {
    this.durations[kind].observe(seconds);
  }

  addRulesWritten(rules: number): void {
    this.rulesWritten += rules;
  }

  syncFailed(): void {
    this.failures++;
  }

  /** The wall-clock time (ms) a sync last succeeded. */
  setLastSync(timestampMs: number): void {
    this.lastSyncSeconds = timestampMs / 1000;
  }

  render(): string {
    const out: string[] = [];
    const h = 'nodelet_proxy_sync_duration_seconds';
    out.push(`# HELP ${h} How long one sync of the proxy rules took, full or partial.`, `# TYPE ${h} histogram`);
    for (const kind of ['full', 'partial'] as const) {
      const hist = this.durations[kind];
      SYNC_DURATION_BUCKETS.forEach((le, i) => out.push(`${h}_bucket{sync="${kind}",le="${num(le)}"} ${hist.counts[i]}`));
      out.push(`${h}_bucket{sync="${kind}",le="+Inf"} ${hist.count}`);
      out.push(`${h}_sum{sync="${kind}"} ${num(hist.sum)}`);
      out.push(`${h}_count{sync="${kind}"} ${hist.count}`);
    }
    out.push(
      '# HELP nodelet_proxy_rules_written_total Rules written to the kernel by successful syncs.',
      '# TYPE nodelet_proxy_rules_written_total counter',
      `nodelet_proxy_rules_written_total ${this.rulesWritten}`,
      '# HELP nodelet_proxy_sync_failures_total Syncs the kernel refused or that could not run.',
      '# TYPE nodelet_proxy_sync_failures_total counter',
      `nodelet_proxy_sync_failures_total ${this.failures}`,
      '# HELP nodelet_proxy_last_sync_timestamp_seconds When a sync last succeeded (Unix time); 0 before the first.',
      '# TYPE nodelet_proxy_last_sync_timestamp_seconds gauge',
      `nodelet_proxy_last_sync_timestamp_seconds ${num(this.lastSyncSeconds)}`,
    );
    return `${out.join('\n')}\n`;
  }
}
