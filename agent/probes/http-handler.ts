// httpGet probes (and hooks): one GET to scheme://host:port/path, as kubelet sends
// it: its User-Agent and Accept unless the probe sets them, no keep-alive (one
// socket per probe, closed after), HTTPS without certificate checks, redirects
// followed only on the same host, at most 10 KiB of body read, and one deadline
// for the whole exchange. 200–399 is success. Plain HTTP goes through http1Exchange
// (a probe's request on its own socket, without node:http's machinery: about half the
// CPU at a hundred probes a second); HTTPS through node:https.
import type http from 'node:http';
import https from 'node:https';
import type { Container, HTTPGetAction } from '../api/types.js';
import { assertHeaderSafe, http1Exchange, Http1TimeoutError } from '../util/http1-exchange.js';
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

/**
 * What stays the same from one run of a probe to the next against one host and
 * port: its URL, its headers and, for plain HTTP, the first request's bytes. Kept
 * per action object (a pod's spec), so a hundred probes a second build no URLs.
 */
interface PreparedProbe {
  key: string;
  url: URL;
  headers: Record<string, string | string[]>;
  /** Set on first use (building it may refuse a header). */
  request?: Buffer;
}

const preparedProbes = new WeakMap<HTTPGetAction, PreparedProbe>();

function preparedProbe(action: HTTPGetAction, host: string, port: number, userAgent: string): PreparedProbe {
  const key = `${host}\0${port}\0${userAgent}`;
  const cached = preparedProbes.get(action);
  if (cached?.key === key) return cached;
  const prepared = { key, url: buildProbeUrl(action.scheme, host, port, action.path), headers: probeHeaders(action, userAgent) };
  preparedProbes.set(action, prepared);
  return prepared;
}

/** The headers of a request to `url`: a Host the probe sets holds for its own URL (and relative redirects); otherwise host:port as kubelet sends it. */
function headersFor(probe: PreparedProbe, url: URL): Record<string, string | string[]> {
  const headers = { ...probe.headers };
  if (probe.headers.host === undefined || url.host !== probe.url.host) headers.host = url.host;
  return headers;
}

/** One probe: a success, a failure with kubelet's message, or ProbeError when it cannot be formed. */
export async function httpProbe(action: HTTPGetAction, target: HttpProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const start = performance.now();
  const host = action.host || target.podIP;
  if (!host) throw new ProbeError(`httpGet probe of container ${target.container.name} has no host and the pod has no IP yet`);
  const port = resolvePort(action.port, target.container);
  const probe = preparedProbe(action, host, port, target.userAgent ?? PROBE_USER_AGENT);
  const first = probe.url;
  const deadline = start + timeoutMs;
  let url = first;
  let headArrived = false;
  try {
    for (let redirects = 0; ; redirects++) {
      headArrived = false;
      const left = Math.max(0, deadline - performance.now());
      let response: ProbeResponse;
      if (url.protocol === 'https:') {
        response = await fetchHttps(url, headersFor(probe, url), left, () => {
          headArrived = true;
        });
      } else {
        const request =
          url === first
            ? (probe.request ??= Buffer.from(probeRequestText(url, headersFor(probe, url)), 'utf8'))
            : Buffer.from(probeRequestText(url, headersFor(probe, url)), 'utf8');
        response = await fetchHttp(url, request, left);
      }
      const { status, location, body } = response;
      if (REDIRECT_CODES.has(status) && location) {
        const next = new URL(location, url);
        if (next.hostname === first.hostname) {
          if (redirects >= MAX_REDIRECTS) {
            return {
              result: 'failure',
              message: `Get ${JSON.stringify(next.href)}: stopped after ${MAX_REDIRECTS} redirects`,
              statusCode: status,
              latencyMs: elapsedMs(start),
            };
          }
          url = next;
          continue;
        }
        // Another host: kubelet stops here and takes the redirect itself as the answer.
      }
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
    const timedOut = err instanceof Http1TimeoutError || err instanceof HttpsTimeoutError;
    if (err instanceof Http1TimeoutError) headArrived = err.headArrived;
    const why = timedOut ? `timed out after ${formatDuration(timeoutMs)} ${headArrived ? 'reading body' : 'awaiting headers'}` : (err as Error).message;
    return { result: 'failure', message: `Get ${JSON.stringify(url.href)}: ${why}`, latencyMs: elapsedMs(start) };
  }
}

interface ProbeResponse {
  status: number;
  location?: string;
  /** At most MAX_HTTP_BODY_BYTES of it, as text. */
  body: string;
}

/** "user-agent" → "User-Agent", as Go writes header names. */
function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** The GET request as written on the wire; Host first, as Go's client writes it. */
export function probeRequestText(url: URL, headers: Record<string, string | string[]>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
  const names = Object.keys(headers).sort((a, b) => (a === 'host' ? -1 : b === 'host' ? 1 : 0));
  for (const name of names) {
    const value = headers[name]!;
    for (const v of Array.isArray(value) ? value : [value]) {
      assertHeaderSafe(name, v);
      lines.push(`${canonicalHeaderName(name)}: ${v}`);
    }
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

async function fetchHttp(url: URL, request: Buffer, timeoutMs: number): Promise<ProbeResponse> {
  const res = await http1Exchange({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) }, request, {
    maxBodyBytes: MAX_HTTP_BODY_BYTES,
    timeoutMs,
  });
  return { status: res.status, location: res.headers.get('location'), body: res.body.toString('utf8') };
}

/** HTTPS ran out of its time. */
class HttpsTimeoutError extends Error {}

async function fetchHttps(url: URL, headers: Record<string, string | string[]>, timeoutMs: number, onHead: () => void): Promise<ProbeResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const res = await get(url, headers, controller.signal);
    onHead();
    const location = res.headers.location;
    const body = await readCapped(res, MAX_HTTP_BODY_BYTES, controller.signal);
    return { status: res.statusCode ?? 0, location, body };
  } catch (err) {
    throw timedOut ? new HttpsTimeoutError('timed out') : err;
  } finally {
    clearTimeout(timer);
  }
}

function get(url: URL, headers: Record<string, string | string[]>, signal: AbortSignal): Promise<http.IncomingMessage> {
  const options: https.RequestOptions = {
    method: 'GET',
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || 443,
    path: `${url.pathname}${url.search}`,
    headers,
    // A fresh, keep-alive-free agent per request: probes never pile up sockets.
    agent: false,
    signal,
  };
  return new Promise((resolve, reject) => {
    const req = https.request({ ...options, rejectUnauthorized: false }, resolve);
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
