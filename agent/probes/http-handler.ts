// httpGet probes (and hooks): one GET to scheme://host:port/path, as kubelet sends
// it: its User-Agent and Accept unless the probe sets them, no keep-alive (one
// socket per probe, closed after), HTTPS without certificate checks, redirects
// followed only on the same host, at most 10 KiB of body read, and one deadline
// for the whole exchange. 200–399 is success.
import http from 'node:http';
import https from 'node:https';
import type { Container, HTTPGetAction } from '../api/types.js';
import { joinHostPort, resolvePort } from './container-port.js';
import { PROBE_USER_AGENT, ProbeError, elapsedMs, formatDuration, type ProbeOutcome } from './probe-outcome.js';

export { resolvePort } from './container-port.js';

/** kubelet's maxRespBodyLength. */
export const MAX_HTTP_BODY_BYTES = 10 * 1024;
/** Go's http.Client stops after this many redirects (kubelet keeps that limit). */
export const MAX_REDIRECTS = 10;

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

export interface HttpProbeTarget {
  /** Used when the action names no host. */
  podIP: string;
  /** Resolves a named port. */
  container: Pick<Container, 'name' | 'ports'>;
  /** Defaults to kube-probe/…; hooks send their own. */
  userAgent?: string;
}

/**
 * The probe's URL. `path` keeps only its path and query, as kubelet's formatURL
 * does: a path can never point the probe at another host.
 */
export function buildProbeUrl(scheme: 'HTTP' | 'HTTPS' | undefined, host: string, port: number, path: string | undefined): URL {
  const parsed = new URL(path ?? '', 'http://placeholder');
  const url = new URL(`${scheme === 'HTTPS' ? 'https' : 'http'}://${joinHostPort(host, port)}`);
  url.pathname = parsed.pathname;
  url.search = parsed.search;
  return url;
}

/** The request headers: the probe's own (repeats kept), then kubelet's defaults for those it lacks. */
export function probeHeaders(action: HTTPGetAction, userAgent: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const { name, value } of action.httpHeaders ?? []) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  headers['user-agent'] ??= userAgent;
  headers.accept ??= '*/*';
  headers.connection = 'close';
  return headers;
}

/** One probe: a success, a failure with kubelet's message, or ProbeError when it cannot be formed. */
export async function httpProbe(action: HTTPGetAction, target: HttpProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const start = performance.now();
  const host = action.host || target.podIP;
  if (!host) throw new ProbeError(`httpGet probe of container ${target.container.name} has no host and the pod has no IP yet`);
  const port = resolvePort(action.port, target.container);
  const first = buildProbeUrl(action.scheme, host, port, action.path);
  const baseHeaders = probeHeaders(action, target.userAgent ?? PROBE_USER_AGENT);
  const customHost = baseHeaders.host;

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let url = first;
  let phase = 'awaiting headers';
  try {
    for (let redirects = 0; ; redirects++) {
      const headers = { ...baseHeaders };
      // A Host the probe sets holds for its own URL (and relative redirects); otherwise host:port as kubelet sends it.
      if (customHost === undefined || url.host !== first.host) headers.host = url.host;
      phase = 'awaiting headers';
      const res = await get(url, headers, controller.signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECT_CODES.has(status) && location) {
        const next = new URL(location, url);
        if (next.hostname === first.hostname) {
          res.destroy();
          if (redirects >= MAX_REDIRECTS) {
            return { result: 'failure', message: `Get ${JSON.stringify(next.href)}: stopped after ${MAX_REDIRECTS} redirects`, statusCode: status, latencyMs: elapsedMs(start) };
          }
          url = next;
          continue;
        }
        // Another host: kubelet stops here and takes the redirect itself as the answer.
      }
      phase = 'reading body';
      const body = await readCapped(res, MAX_HTTP_BODY_BYTES, controller.signal);
      const latencyMs = elapsedMs(start);
      if (status >= 200 && status < 400) {
        if (status >= 300) {
          return { result: 'success', warning: true, message: `Probe terminated redirects, Response body: ${body}`, statusCode: status, latencyMs };
        }
        return { result: 'success', message: body, statusCode: status, latencyMs };
      }
      return { result: 'failure', message: `HTTP probe failed with statuscode: ${status}`, statusCode: status, latencyMs };
    }
  } catch (err) {
    const why = controller.signal.aborted ? `timed out after ${formatDuration(timeoutMs)} ${phase}` : (err as Error).message;
    return { result: 'failure', message: `Get ${JSON.stringify(url.href)}: ${why}`, latencyMs: elapsedMs(start) };
  } finally {
    clearTimeout(timer);
  }
}

function get(url: URL, headers: Record<string, string | string[]>, signal: AbortSignal): Promise<http.IncomingMessage> {
  const options: https.RequestOptions = {
    method: 'GET',
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    headers,
    // A fresh, keep-alive-free agent per request: probes never pile up sockets.
    agent: false,
    signal,
  };
  return new Promise((resolve, reject) => {
    const req = url.protocol === 'https:'
      ? https.request({ ...options, rejectUnauthorized: false }, resolve)
      : http.request(options, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Up to `limit` bytes of the body as text; the rest is never read (the socket is closed). */
function readCapped(res: http.IncomingMessage, limit: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      res.destroy();
      resolve(Buffer.concat(chunks).subarray(0, limit).toString('utf8'));
    };
    const onAbort = () => {
      res.destroy();
      reject(new Error('aborted'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) done();
    });
    res.on('end', done);
    res.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
  });
}
