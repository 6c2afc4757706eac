// The proxy's own small HTTP server, as kube-proxy's on --healthz-port 10256:
// /healthz for a load balancer or liveness probe (is the proxy still programming
// rules?) and /metrics for Prometheus.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { realClock, type Clock } from '../../api/clock.js';
import { PROMETHEUS_CONTENT_TYPE, type ProxyMetrics } from './proxy-metrics.js';

export const DEFAULT_HEALTHZ_PORT = 10256;

/** What the health check needs from the proxier. */
export interface ProxySyncTimes {
  /** Wall-clock ms of the last successful sync, or undefined. */
  lastSyncedAt(): number | undefined;
  /** Wall-clock ms the proxier started, or undefined while it has not. */
  startedAt(): number | undefined;
}

export interface ProxyHealth {
  healthy: boolean;
  /** ISO time of the last successful sync, or null before the first. */
  lastUpdated: string | null;
  currentTime: string;
}

/**
 * Healthy while the last successful sync is at most 2×maxSync old. Before the first
 * sync, the start time stands in for it: a proxy still waiting for its inputs is
 * given the same grace, then reported unhealthy.
 */
export function evaluateProxyHealth(input: { now: number; lastSyncedAt?: number; startedAt?: number; maxSyncMs: number }): ProxyHealth {
  const reference = input.lastSyncedAt ?? input.startedAt;
  return {
    healthy: reference !== undefined && input.now - reference <= 2 * input.maxSyncMs,
    lastUpdated: input.lastSyncedAt === undefined ? null : new Date(input.lastSyncedAt).toISOString(),
    currentTime: new Date(input.now).toISOString(),
  };
}

export interface ProxyHealthServerOptions {
  metrics: ProxyMetrics;
  sync: ProxySyncTimes;
  maxSyncMs: number;
  /** Default 10256; 0 picks a free port (tests). */
  port?: number;
  /** Default 0.0.0.0: load balancers probe it from off the node. */
  host?: string;
  clock?: Clock;
}

export interface ProxyHealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export function startProxyHealthServer(options: ProxyHealthServerOptions): Promise<ProxyHealthServer> {
  const clock = options.clock ?? realClock;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      const h = evaluateProxyHealth({
        now: clock.now(),
        lastSyncedAt: options.sync.lastSyncedAt(),
        startedAt: options.sync.startedAt(),
        maxSyncMs: options.maxSyncMs,
      });
      const body = JSON.stringify({ lastUpdated: h.lastUpdated, currentTime: h.currentTime });
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
      res.end(req.method === 'HEAD' ? undefined : options.metrics.render());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_HEALTHZ_PORT, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
