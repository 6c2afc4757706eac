import { afterEach, describe, it, expect } from 'vitest';
import { FakeClock } from '../../../../agent/api/clock.js';
import { PROMETHEUS_CONTENT_TYPE, ProxyMetrics, SYNC_DURATION_BUCKETS } from '../../../../agent/network/proxy/proxy-metrics.js';
import {
  DEFAULT_HEALTHZ_PORT,
  evaluateProxyHealth,
  startProxyHealthServer,
  type ProxyHealthServer,
} from '../../../../agent/network/proxy/proxy-health-server.js';

/** Sample lines (not comments) as name{labels} → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('ProxyMetrics', () => {
  it('renders the sync histogram per kind with cumulative buckets', () => {
    const m = new ProxyMetrics();
    m.observeSync('full', 0.003);
    m.observeSync('full', 0.5);
    m.observeSync('partial', 0.0005);
    const s = samples(m.render());
    expect(s.get('nodelet_proxy_sync_duration_seconds_bucket{sync="full",le="0.001"}')).toBe(0);
    expect(s.get('nodelet_proxy_sync_duration_seconds_bucket{sync="full",le="0.004"}')).toBe(1);
    expect(s.get('nodelet_proxy_sync_duration_seconds_bucket{sync="full",le="0.512"}')).toBe(2);
    expect(s.get('nodelet_proxy_sync_duration_seconds_bucket{sync="full",le="+Inf"}')).toBe(2);
    expect(s.get('nodelet_proxy_sync_duration_seconds_count{sync="full"}')).toBe(2);
    expect(s.get('nodelet_proxy_sync_duration_seconds_sum{sync="full"}')).toBeCloseTo(0.503);
    expect(s.get('nodelet_proxy_sync_duration_seconds_bucket{sync="partial",le="0.001"}')).toBe(1);
    expect(s.get('nodelet_proxy_sync_duration_seconds_count{sync="partial"}')).toBe(1);
  });

  it('uses kube-proxy buckets from 1 ms doubling', () => {
    expect(SYNC_DURATION_BUCKETS[0]).toBe(0.001);
    expect(SYNC_DURATION_BUCKETS.at(-1)).toBe(16.384);
    const text = new ProxyMetrics().render();
    expect(text).toContain('le="1.024"');
    expect(text).not.toMatch(/le="0\.00\d{5,}/); // no float noise in the labels
  });

  it('counts rules written and failures and records the last sync time', () => {
    const m = new ProxyMetrics();
    m.addRulesWritten(120);
    m.addRulesWritten(7);
    m.syncFailed();
    m.setLastSync(1_767_225_600_500);
    const s = samples(m.render());
    expect(s.get('nodelet_proxy_rules_written_total')).toBe(127);
    expect(s.get('nodelet_proxy_sync_failures_total')).toBe(1);
    expect(s.get('nodelet_proxy_last_sync_timestamp_seconds')).toBe(1_767_225_600.5);
  });

  it('declares each metric family once with HELP and TYPE', () => {
    const text = new ProxyMetrics().render();
    for (const [name, type] of [
      ['nodelet_proxy_sync_duration_seconds', 'histogram'],
      ['nodelet_proxy_rules_written_total', 'counter'],
      ['nodelet_proxy_sync_failures_total', 'counter'],
      ['nodelet_proxy_last_sync_timestamp_seconds', 'gauge'],
    ]) {
      expect(text.match(new RegExp(`^# TYPE ${name} ${type}$`, 'gm'))).toHaveLength(1);
      expect(text.match(new RegExp(`^# HELP ${name} `, 'gm'))).toHaveLength(1);
    }
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('evaluateProxyHealth', () => {
  const maxSyncMs = 30_000;
  it('is healthy within twice the maximum sync period of the last sync', () => {
    const h = evaluateProxyHealth({ now: 100_000, lastSyncedAt: 40_000, startedAt: 0, maxSyncMs });
    expect(h).toEqual({ healthy: true, lastUpdated: new Date(40_000).toISOString(), currentTime: new Date(100_000).toISOString() });
    expect(evaluateProxyHealth({ now: 100_001, lastSyncedAt: 40_000, startedAt: 0, maxSyncMs }).healthy).toBe(false);
  });

  it('gives a starting proxy the same grace before its first sync', () => {
    expect(evaluateProxyHealth({ now: 50_000, startedAt: 0, maxSyncMs })).toMatchObject({ healthy: true, lastUpdated: null });
    expect(evaluateProxyHealth({ now: 60_001, startedAt: 0, maxSyncMs }).healthy).toBe(false);
    expect(evaluateProxyHealth({ now: 1, maxSyncMs }).healthy).toBe(false);
  });
});

describe('proxy health server', () => {
  let server: ProxyHealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(lastSyncedAt: number | undefined, clock: FakeClock, metrics = new ProxyMetrics()) {
    server = await startProxyHealthServer({
      metrics,
      maxSyncMs: 30_000,
      port: 0,
      host: '127.0.0.1',
      clock,
      sync: { lastSyncedAt: () => lastSyncedAt, startedAt: () => 0 },
    });
    return `http://127.0.0.1:${server.port}`;
  }

  it('answers /healthz 200 with the sync times while syncs are recent', async () => {
    const clock = new FakeClock(0);
    clock.advance(45_000);
    const base = await start(30_000, clock);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ lastUpdated: new Date(30_000).toISOString(), currentTime: new Date(45_000).toISOString() });
  });

  it('answers /healthz 503 once the last sync is older than twice the maximum period', async () => {
    const clock = new FakeClock(0);
    clock.advance(200_000);
    const base = await start(30_000, clock);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ lastUpdated: new Date(30_000).toISOString() });
  });

  it('serves /metrics in the Prometheus text format and 404 elsewhere', async () => {
    const metrics = new ProxyMetrics();
    metrics.addRulesWritten(3);
    const base = await start(0, new FakeClock(0), metrics);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await res.text()).toContain('nodelet_proxy_rules_written_total 3\n');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('defaults to kube-proxy port 10256', () => {
    expect(DEFAULT_HEALTHZ_PORT).toBe(10256);
  });
});
