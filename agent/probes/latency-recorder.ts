// The newest probe latencies per probe type and per handler kind in fixed rings,
// for percentiles in benchmarks and metrics; memory stays bounded however long the
// agent runs.
import { PROBE_TYPES, type ProbeType } from './probe-settings.js';

export type ProbeHandlerKind = 'exec' | 'httpGet' | 'tcpSocket' | 'grpc';
export type LatencyKey = ProbeType | ProbeHandlerKind;

export const DEFAULT_LATENCY_SAMPLES = 10_000;

class Ring {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  add(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  /** Oldest first. */
  list(): number[] {
    const start = this.count < this.values.length ? 0 : this.next;
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.values[(start + i) % this.values.length]!);
    return out;
  }
}

export class LatencyRecorder {
  private readonly rings = new Map<LatencyKey, Ring>();

  constructor(private readonly capacity = DEFAULT_LATENCY_SAMPLES) {}

  /** One run, counted under its probe type and under its handler kind. */
  record(type: ProbeType, kind: ProbeHandlerKind | undefined, latencyMs: number): void {
    this.ring(type).add(latencyMs);
    if (kind) this.ring(kind).add(latencyMs);
  }

  /** Recorded latencies in ms for one probe type or handler kind; without a key, every run once. */
  list(key?: LatencyKey): number[] {
    if (key) return this.rings.get(key)?.list() ?? [];
    return PROBE_TYPES.flatMap((t) => this.rings.get(t)?.list() ?? []);
  }

  private ring(key: LatencyKey): Ring {
    let ring = this.rings.get(key);
    if (!ring) this.rings.set(key, (ring = new Ring(this.capacity)));
    return ring;
  }
}

/** The p-th percentile (0–100) by nearest rank; undefined for no samples. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
