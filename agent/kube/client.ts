// The apiserver client: JSON over HTTP(S) with keep-alive connections, a
// client-side rate limit, a deadline on every call (and a separate one for the TCP
// connect), credentials asked for before each request and refreshed once on 401,
// and typed errors. Watches are async iterables of newline-delimited JSON events.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { VERSION } from '../api/version.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { realClock, type Clock } from '../api/clock.js';
import { sleep } from '../api/backoff.js';
import { authorizationHeader, StaticCredentials, type CredentialSource, type Credentials } from './credentials.js';
import { ApiError, ApiUnavailableError, isGone, isNotFound, WatchStreamError } from './errors.js';
import { loadKubeconfig, type ClusterEndpoint, type LoadKubeconfigOptions } from './kubeconfig.js';
import { RateLimiter } from './rate-limiter.js';
import { queryString, type QueryValue } from './resource-path.js';
import type { DeleteOptions, ListResult, ObjectList, Status, WatchEvent, WatchEventType } from './types.js';
import { ndjsonLines } from './watch-decoder.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

export interface RequestOptions {
  method: HttpMethod;
  /** API path without the server's prefix, e.g. from resourcePath(). */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON unless it is already a string or Buffer. */
  body?: unknown;
  /** Default application/json. */
  contentType?: string;
  /** Deadline of this call (default: the client's, 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Options every helper accepts. */
export interface CallOptions {
  query?: Record<string, QueryValue>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; 0 lists everything in one response. Default 500 (client-go's pager). */
  limit?: number;
  /** Unset: the latest data (a consistent read). */
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
}

export interface WatchOptions {
  /** Events after this version; unset means "start at the current state" (synthetic ADDEDs first). */
  resourceVersion?: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Ask for BOOKMARK events that advance the resourceVersion of quiet watches. Default true. */
  allowWatchBookmarks?: boolean;
  /** The server closes the watch after this long. */
  timeoutSeconds?: number;
}

export type PatchType = 'strategic' | 'merge' | 'json';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  strategic: 'application/strategic-merge-patch+json',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

export interface KubeClientOptions {
  cluster: ClusterEndpoint;
  /** Default: anonymous. */
  credentials?: CredentialSource;
  /** Default: QPS 50, burst 100 (kubelet's kubeAPIQPS / kubeAPIBurst). */
  rateLimiter?: RateLimiter;
  qps?: number;
  burst?: number;
  /** Deadline of a request until its whole response is read (watches: until headers). Default 30 s. */
  timeoutMs?: number;
  /** Deadline of establishing the TCP connection. Default 10 s. */
  connectTimeoutMs?: number;
  /** How often a 429 (or a 5xx with Retry-After) is retried before it is returned. Default 5. */
  maxThrottleRetries?: number;
  userAgent?: string;
  logger?: Logger;
  clock?: Clock;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_THROTTLE_RETRIES = 5;
const MAX_RETRY_AFTER_SECONDS = 30;
const DEFAULT_PAGE_SIZE = 500;
const IDEMPOTENT = new Set<HttpMethod>(['GET', 'HEAD', 'PUT', 'DELETE']);
const WATCH_EVENT_TYPES = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** The server closed an idle keep-alive connection just as it was reused: safe to resend once. */
class StaleSocketError extends ApiUnavailableError {}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Whole body (non-streaming calls and every error answer). */
  body?: Buffer;
  /** The open response of a successful streaming call. */
  stream?: IncomingMessage;
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

function retryAfterSeconds(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function parseStatus(body: Buffer | undefined): Status | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const doc = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof doc === 'object' && doc !== null && (doc as Status).kind === 'Status') return doc as Status;
  } catch {
    /* not JSON: the caller falls back to the text */
  }
  return undefined;
}

function errorFromResponse(method: string, path: string, r: RawResponse): ApiError {
  const status = parseStatus(r.body);
  const text = status ? undefined : r.body?.toString('utf8').trim().slice(0, 200);
  const retryAfter = retryAfterSeconds(r.headers);
  return new ApiError({
    method,
    path,
    code: r.status,
    ...(status ? { status } : {}),
    ...(text ? { message: text } : {}),
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  });
}

export class KubeClient {
  private readonly cluster: ClusterEndpoint;
  private readonly base: URL;
  private readonly credentials: CredentialSource;
  private readonly limiter: RateLimiter;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxThrottleRetries: number;
  private readonly userAgent: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private httpAgent: http.Agent | undefined;
  private httpsAgent: { agent: https.Agent; cert: Buffer | undefined; key: Buffer | undefined } | undefined;
  private readonly discovery = new Map<string, Promise<Set<string>>>();
  private closed = false;

  constructor(options: KubeClientOptions) {
    this.cluster = options.cluster;
    this.base = new URL(options.cluster.server);
    this.credentials = options.credentials ?? new StaticCredentials();
    this.clock = options.clock ?? realClock;
    this.limiter =
      options.rateLimiter ??
      new RateLimiter({
        ...(options.qps !== undefined ? { qps: options.qps } : {}),
        ...(options.burst !== undefined ? { burst: options.burst } : {}),
        clock: this.clock,
      });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.maxThrottleRetries = options.maxThrottleRetries ?? DEFAULT_MAX_THROTTLE_RETRIES;
    this.userAgent = options.userAgent ?? `nodelet/${VERSION} (${process.platform}/${process.arch})`;
    this.logger = options.logger ?? silentLogger;
  }

  /** A client for the kubeconfig's (current or given) context. */
  static async fromKubeconfig(path: string, options: Omit<KubeClientOptions, 'cluster' | 'credentials'> & LoadKubeconfigOptions = {}): Promise<KubeClient> {
    const config = await loadKubeconfig(path, options);
    return new KubeClient({ ...options, cluster: config.cluster, credentials: config.credentials });
  }

  /** The server URL this client talks to. */
  get server(): string {
    return this.cluster.server;
  }

  /** One call; resolves to the parsed JSON body (undefined when empty). */
  async request<T>(options: RequestOptions): Promise<T> {
    const r = await this.perform(options, false);
    const body = r.body;
    if (!body || body.length === 0) return undefined as T;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch (err) {
      throw new ApiUnavailableError(options.method, options.path, `response (${r.status}) is not JSON`, { cause: err });
    }
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: 'GET', path, ...options });
  }

  /**
   * Every page of a collection (limit/continue) gathered into one list, with the
   * list's resourceVersion to start a watch from. A continue token that expired
   * mid-way (410) restarts as one unpaginated list, like client-go's pager.
   */
  async list<T>(path: string, options: ListOptions = {}): Promise<ListResult<T>> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    for (;;) {
      const query: Record<string, QueryValue> = {
        ...options.query,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: limit > 0 ? limit : undefined,
        continue: token,
        // The continue token already pins the snapshot; a version may not accompany it.
        resourceVersion: token ? undefined : options.resourceVersion,
        resourceVersionMatch: token ? undefined : options.resourceVersionMatch,
      };
      let page: ObjectList<T>;
      try {
        page = await this.request<ObjectList<T>>({ method: 'GET', path, query, ...this.callOptions(options) });
      } catch (err) {
        if (token !== undefined && isGone(err)) {
          this.logger.debug({ path }, 'continue token expired; listing without pagination');
          return this.list<T>(path, { ...options, limit: 0 });
        }
        throw err;
      }
      if (!page || !Array.isArray(page.items)) throw new ApiUnavailableError('GET', path, 'list response has no items array');
      // The apiserver leaves kind and apiVersion out of list items; watch events carry
      // them. Fill them in so cached objects look the same whichever way they came.
      const itemKind = page.kind?.endsWith('List') ? page.kind.slice(0, -'List'.length) : undefined;
      for (const item of page.items) {
        if (itemKind && item && typeof item === 'object') {
          const typed = item as { kind?: string; apiVersion?: string };
          typed.kind ??= itemKind;
          if (page.apiVersion) typed.apiVersion ??= page.apiVersion;
        }
        items.push(item);
      }
      resourceVersion ??= page.metadata?.resourceVersion;
      token = page.metadata?.continue || undefined;
      if (!token) break;
    }
    return { items, resourceVersion: resourceVersion ?? '' };
  }

  create<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: 'POST', path, body, ...options });
  }

  /** PUT: replaces the object; its metadata.resourceVersion makes it conditional. */
  update<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: 'PUT', path, body, ...options });
  }

  patch<T>(path: string, patch: unknown, type: PatchType, options: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: 'PATCH', path, body: patch, contentType: PATCH_CONTENT_TYPES[type], ...options });
  }

  /** DELETE with a DeleteOptions body; answers the object (graceful) or a Status. */
  delete<T = unknown>(path: string, options: DeleteOptions & CallOptions = {}): Promise<T> {
    const { query, timeoutMs, signal, ...deleteOptions } = options;
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...deleteOptions };
    return this.request<T>({ method: 'DELETE', path, body, ...this.callOptions({ query, timeoutMs, signal }) });
  }

  /**
   * Watches a collection. The request is sent when iteration starts; events are
   * yielded as they arrive, ERROR events included (the caller decides: 410 means
   * re-list). The iterable ends when the server closes the stream; it throws
   * ApiError for a refused watch, ApiUnavailableError when the server cannot be
   * reached, WatchStreamError when the stream breaks, and the signal's reason on abort.
   */
  watch<T>(path: string, options: WatchOptions = {}, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
    return { [Symbol.asyncIterator]: () => this.watchEvents<T>(path, options, signal) };
  }

  /**
   * Whether the server serves `resource` in `groupVersion` ('v1',
   * 'coordination.k8s.io/v1'), from discovery, cached; callers fall back when not.
   */
  async hasResource(groupVersion: string, resource: string, options: CallOptions = {}): Promise<boolean> {
    let names = this.discovery.get(groupVersion);
    if (!names) {
      names = this.discover(groupVersion, options);
      this.discovery.set(groupVersion, names);
      names.catch(() => this.discovery.delete(groupVersion));
    }
    return (await names).has(resource);
  }

  /** Forget discovery results (after the server was upgraded, say). */
  forgetDiscovery(): void {
    this.discovery.clear();
  }

  /** Closes every connection; later calls fail. */
  close(): void {
    this.closed = true;
    this.httpAgent?.destroy();
    this.httpsAgent?.agent.destroy();
  }

  private async discover(groupVersion: string, options: CallOptions): Promise<Set<string>> {
    const path = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    try {
      const list = await this.get<{ resources?: Array<{ name?: string }> }>(path, options);
      return new Set((list?.resources ?? []).map((r) => r.name ?? ''));
    } catch (err) {
      if (isNotFound(err)) return new Set();
      throw err;
    }
  }

  private callOptions(o: CallOptions): Pick<RequestOptions, 'query' | 'timeoutMs' | 'signal'> {
    return {
      ...(o.query !== undefined ? { query: o.query } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
    };
  }

  private async *watchEvents<T>(path: string, options: WatchOptions, signal: AbortSignal | undefined): AsyncGenerator<WatchEvent<T>> {
    const query: Record<string, QueryValue> = {
      watch: 'true',
      resourceVersion: options.resourceVersion,
      fieldSelector: options.fieldSelector,
      labelSelector: options.labelSelector,
      allowWatchBookmarks: options.allowWatchBookmarks ?? true,
      timeoutSeconds: options.timeoutSeconds,
    };
    const r = await this.perform({ method: 'GET', path, query, ...(signal ? { signal } : {}) }, true);
    const stream = r.stream;
    if (!stream) throw new ApiUnavailableError('GET', path, 'watch answered without a stream');
    const onAbort = () => stream.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const line of ndjsonLines(stream)) {
        yield this.parseWatchLine<T>(path, line);
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof WatchStreamError) throw err;
      throw new WatchStreamError('GET', path, `watch stream broke: ${(err as Error).message}`, { cause: err });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    }
  }

  private parseWatchLine<T>(path: string, line: string): WatchEvent<T> {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw new WatchStreamError('GET', path, 'watch stream carried a line that is not JSON');
    }
    const event = doc as { type?: unknown; object?: unknown };
    if (
      typeof event !== 'object' ||
      event === null ||
      !WATCH_EVENT_TYPES.has(event.type as WatchEventType) ||
      typeof event.object !== 'object' ||
      event.object === null
    ) {
      throw new WatchStreamError('GET', path, 'watch stream carried something that is not a watch event');
    }
    return event as WatchEvent<T>;
  }

  /** Rate limit, credentials, one 401 refresh, throttling retries, and the error mapping. */
  private async perform(options: RequestOptions, stream: boolean): Promise<RawResponse> {
    const { method, path } = options;
    let authRetried = false;
    let staleRetried = false;
    let throttleRetries = 0;
    for (;;) {
      if (this.closed) throw new ApiUnavailableError(method, path, 'the client is closed');
      await this.limiter.acquire(options.signal);
      const credentials = await this.credentials.get();
      let r: RawResponse;
      try {
        r = await this.send(options, credentials, stream);
      } catch (err) {
        if (err instanceof StaleSocketError && !staleRetried && IDEMPOTENT.has(method)) {
          staleRetried = true;
          continue;
        }
        throw err;
      }
      if (r.status === 401 && !authRetried && this.credentials.invalidate(credentials)) {
        authRetried = true;
        this.logger.debug({ method, path }, 'apiserver refused the credentials; fetching fresh ones');
        continue;
      }
      const retryAfter = retryAfterSeconds(r.headers);
      if ((r.status === 429 || (r.status >= 500 && retryAfter !== undefined)) && throttleRetries < this.maxThrottleRetries) {
        throttleRetries++;
        const waitSeconds = Math.min(retryAfter ?? 1, MAX_RETRY_AFTER_SECONDS);
        this.logger.debug({ method, path, code: r.status, waitSeconds }, 'apiserver asked to retry later');
        await sleep(this.clock, waitSeconds * 1000, options.signal);
        continue;
      }
      if (r.status >= 400 || r.status < 200) throw errorFromResponse(method, path, r);
      return r;
    }
  }

  private agentFor(credentials: Credentials): http.Agent {
    if (this.base.protocol === 'http:') {
      this.httpAgent ??= new http.Agent({ keepAlive: true });
      return this.httpAgent;
    }
    const current = this.httpsAgent;
    if (current && sameBuffer(current.cert, credentials.cert) && sameBuffer(current.key, credentials.key)) return current.agent;
    // A new client certificate needs new TLS connections. Requests still running on
    // the old ones fail as unavailable and are retried by their callers.
    current?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      ...(this.cluster.ca ? { ca: this.cluster.ca } : {}),
      rejectUnauthorized: !this.cluster.insecureSkipTlsVerify,
      ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
      ...(credentials.cert && credentials.key ? { cert: credentials.cert, key: credentials.key } : {}),
    });
    this.httpsAgent = { agent, cert: credentials.cert, key: credentials.key };
    return agent;
  }

  private encodeBody(options: RequestOptions): Buffer | undefined {
    const { body } = options;
    if (body === undefined) return undefined;
    if (Buffer.isBuffer(body)) return body;
    return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  }

  /** One HTTP exchange with its deadlines; never retries. */
  private send(options: RequestOptions, credentials: Credentials, stream: boolean): Promise<RawResponse> {
    const { method, path, signal } = options;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const url = new URL(`${basePath}${path}${queryString(options.query)}`, this.base);
    const body = this.encodeBody(options);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    const authorization = authorizationHeader(credentials);
    if (authorization) headers['Authorization'] = authorization;
    if (body) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    const transport = url.protocol === 'https:' ? https : http;

    return new Promise<RawResponse>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let settled = false;
      let failure: Error | undefined;
      const req = transport.request(url, { method, headers, agent: this.agentFor(credentials) });
      const deadline = this.clock.setTimeout(() => {
        failure = new ApiUnavailableError(method, path, `no ${stream ? 'response headers' : 'complete response'} within ${timeoutMs} ms`);
        req.destroy(failure);
      }, timeoutMs);
      let connectDeadline: { cancel(): void } | undefined;
      const onAbort = () => {
        failure = signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason));
        req.destroy(failure);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): boolean => {
        if (settled) return false;
        settled = true;
        deadline.cancel();
        connectDeadline?.cancel();
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (err: unknown) => {
        if (!done()) return;
        if (failure) {
          reject(signal?.aborted ? signal.reason : failure);
          return;
        }
        const e = err as NodeJS.ErrnoException;
        const what = e.code ? `${e.code}: ${e.message}` : e.message;
        if (req.reusedSocket && e.code === 'ECONNRESET') reject(new StaleSocketError(method, path, what, { cause: err }));
        else reject(new ApiUnavailableError(method, path, what, { cause: err }));
      };

      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        connectDeadline = this.clock.setTimeout(() => {
          failure = new ApiUnavailableError(method, path, `could not connect to ${url.host} within ${this.connectTimeoutMs} ms`);
          req.destroy(failure);
        }, this.connectTimeoutMs);
        socket.once('connect', () => connectDeadline?.cancel());
      });
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (stream && status >= 200 && status < 300) {
          if (done()) resolve({ status, headers: res.headers, stream: res });
          else res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (done()) resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('connection closed before the response was complete'));
        });
      });
      req.end(body);
    });
  }
}
