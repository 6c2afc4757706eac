// An in-memory, Kubernetes-compatible apiserver for tests: the subset of the REST
// API a node agent uses, with the real semantics (resourceVersion, conflicts and
// preconditions, status subresource, strategic merge, graceful pod deletion,
// watches with bookmarks and 410 on expired versions), plus fault injection and
// direct store helpers so a test can play controller or scheduler.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { discoveryDocument } from './discovery.js';
import { ApiError, injectedFailure, methodNotAllowed, unauthorized } from './errors.js';
import { FaultInjector, type FailureRule } from './faults.js';
import { handleResource, type HandlerContext } from './handlers.js';
import { mediaType, readBody, sendError, sendJson } from './http-io.js';
import { clone } from './json-value.js';
import { kubeconfigYaml } from './kubeconfig.js';
import type { PatchType } from './patch.js';
import { Registry, type DeleteOptions } from './registry.js';
import { matchesRequest, type RequestFilter, type RequestRecord } from './request-log.js';
import { ResourceCatalog } from './resources.js';
import { parseRoute, verbOf } from './routes.js';
import { matchesFilter, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ObjectStore, type ChangeType, type KubeObject } from './store.js';
import { WatchHub } from './watch-hub.js';

export type { DeleteOptions } from './registry.js';
export type { FailureRule } from './faults.js';
export type { PatchType } from './patch.js';
export type { RequestFilter, RequestRecord } from './request-log.js';
export type { KubeObject } from './store.js';
export type { Status } from './errors.js';
export { ApiError } from './errors.js';

export interface TestApiServerOptions {
  /** When set, every request needs `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** API groups not served: absent from discovery, 404 on their paths (e.g. 'coordination.k8s.io'). */
  disabledGroups?: string[];
  /** How many changes stay replayable by watches and continue tokens (default 1000). */
  historyWindow?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** Refuse objects in namespaces that do not exist, as NamespaceLifecycle does (default false). */
  enforceNamespaces?: boolean;
  /** Clock for creationTimestamp and deletionTimestamp (default: the real one). */
  now?: () => Date;
  /** Port to listen on (default: an ephemeral one, kept across goDown/comeBack). */
  port?: number;
}

export interface StoreChange {
  type: ChangeType;
  resource: string;
  object: KubeObject;
}

export interface ListSelectors {
  labelSelector?: string;
  fieldSelector?: string;
}

const SEED_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export class TestApiServer {
  /** Every request received, oldest first. */
  readonly requests: RequestRecord[] = [];
  private readonly catalog: ResourceCatalog;
  private readonly store = new ObjectStore();
  private readonly hub: WatchHub;
  private readonly registry: Registry;
  private readonly faults = new FaultInjector();
  private readonly token: string | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port: number | undefined;

  constructor(private readonly options: TestApiServerOptions = {}) {
    this.token = options.token;
    this.catalog = new ResourceCatalog(options.disabledGroups);
    this.hub = new WatchHub(this.store, {
      historyWindow: options.historyWindow ?? 1000,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
    });
    this.registry = new Registry(this.store, {
      now: options.now ?? (() => new Date()),
      enforceNamespaces: options.enforceNamespaces ?? false,
    });
    for (const name of SEED_NAMESPACES) this.registry.create(this.catalog.require('namespaces'), undefined, { metadata: { name } });
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Base URL, e.g. http://127.0.0.1:41234 (available once started). */
  get url(): string {
    if (this.port === undefined) throw new Error('TestApiServer: not started yet (call start())');
    return `http://127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<string> {
    if (!this.server) await this.listen(this.port ?? this.options.port ?? 0);
    return this.url;
  }

  /** Closes the listener and every connection; the store is kept. */
  async stop(): Promise<void> {
    await this.goDown();
  }

  /** As a crashed apiserver: listener closed, every socket (watches included) destroyed; connects are refused. */
  async goDown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.hub.destroyAll();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port, with the same objects and history. */
  async comeBack(): Promise<string> {
    if (this.port === undefined) throw new Error('TestApiServer: comeBack() before start()');
    if (!this.server) await this.listen(this.port);
    return this.url;
  }

  /** Writes a kubeconfig pointing at this server (with the token, if any); returns the path. */
  async kubeconfig(path: string, namespace = 'default'): Promise<string> {
    await writeFile(path, this.kubeconfigYaml(namespace), { mode: 0o600 });
    return path;
  }

  kubeconfigYaml(namespace = 'default'): string {
    return kubeconfigYaml(this.url, this.token, namespace);
  }

  // ---- faults ----------------------------------------------------------------

  /** Abruptly destroys every open watch connection (clients see a reset, not a clean end). */
  dropWatches(): void {
    this.hub.destroyAll();
  }

  /** Ends every open watch normally, as a server-side watch timeout does. */
  endWatches(): void {
    this.hub.endAll();
  }

  get openWatches(): number {
    return this.hub.openWatches;
  }

  /** Answers the next `count` requests matching `rule` with `rule.status` (a Status body; 429 adds Retry-After). */
  failNext(count: number, rule: FailureRule): void {
    this.faults.failNext(count, rule);
  }

  /** Removes pending failures and latency. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Delays every request by `ms` before it is served. */
  setLatency(ms: number): void {
    this.faults.latencyMs = ms;
  }

  /** Drops the whole change history: watches and continue tokens from older versions get 410. */
  compact(): void {
    this.hub.compact();
  }

  /** The current (latest written) resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.currentRv());
  }

  // ---- request log -----------------------------------------------------------

  countRequests(filter: RequestFilter | ((r: RequestRecord) => boolean) = {}): number {
    return this.requests.filter((r) => matchesRequest(filter, r)).length;
  }

  requestsMatching(filter: RequestFilter | ((r: RequestRecord) => boolean)): RequestRecord[] {
    return this.requests.filter((r) => matchesRequest(filter, r));
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // ---- direct store access (same semantics as the REST API, events included) ----

  /** Creates an object; `namespace` defaults to obj.metadata.namespace ?? 'default' for namespaced kinds. */
  create<T = KubeObject>(resource: string, namespace: string | undefined, obj: object): T {
    const def = this.catalog.require(resource);
    return out<T>(this.registry.create(def, this.namespaceFor(def.namespaced, namespace, obj), obj));
  }

  /** The object, or throws an ApiError (404). */
  get<T = KubeObject>(resource: string, namespace: string | undefined, name: string): T {
    const def = this.catalog.require(resource);
    return out<T>(this.registry.get(def, this.namespaceFor(def.namespaced, namespace), name));
  }

  /** The object, or undefined when absent. */
  find<T = KubeObject>(resource: string, namespace: string | undefined, name: string): T | undefined {
    const def = this.catalog.require(resource);
    const o = this.registry.find(def, this.namespaceFor(def.namespaced, namespace), name);
    return o ? out<T>(o) : undefined;
  }

  /** Objects in key order, in one namespace or (undefined) all. */
  list<T = KubeObject>(resource: string, namespace?: string, selectors: ListSelectors = {}): T[] {
    const def = this.catalog.require(resource);
    const filter = { labels: parseLabelSelector(selectors.labelSelector), fields: parseFieldSelector(selectors.fieldSelector, def) };
    return this.store
      .list(def.plural)
      .filter((o) => (namespace === undefined || !def.namespaced || o.metadata.namespace === namespace) && matchesFilter(filter, o))
      .map((o) => out<T>(o));
  }

  /** PUT semantics: a set metadata.resourceVersion must be current (409 otherwise); status is ignored where it is a subresource. */
  update<T = KubeObject>(resource: string, namespace: string | undefined, obj: object): T {
    const def = this.catalog.require(resource);
    const ns = this.namespaceFor(def.namespaced, namespace, obj);
    return out<T>(this.registry.update(def, ns, nameOf(obj), obj).object);
  }

  /** PUT to the status subresource: only `status` changes. */
  updateStatus<T = KubeObject>(resource: string, namespace: string | undefined, obj: object): T {
    const def = this.catalog.require(resource);
    const ns = this.namespaceFor(def.namespaced, namespace, obj);
    return out<T>(this.registry.update(def, ns, nameOf(obj), obj, 'status').object);
  }

  /** PATCH (default: strategic merge) of the object or, with subresource 'status', of its status only. */
  patch<T = KubeObject>(
    resource: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType = 'strategic',
    options: { subresource?: 'status' } = {},
  ): T {
    const def = this.catalog.require(resource);
    return out<T>(this.registry.patch(def, this.namespaceFor(def.namespaced, namespace), name, type, patch, options.subresource));
  }

  /** DELETE semantics: bound, running pods are only marked (deletionTimestamp) unless gracePeriodSeconds is 0. */
  delete<T = KubeObject>(resource: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): T {
    const def = this.catalog.require(resource);
    return out<T>(this.registry.delete(def, this.namespaceFor(def.namespaced, namespace), name, options));
  }

  /** Calls `listener` after every write (also those made over HTTP), with a copy of the object. */
  onChange(listener: (change: StoreChange) => void): () => void {
    return this.store.onChange((c) => listener({ type: c.type, resource: c.resource, object: clone(c.object) }));
  }

  /**
   * Resolves with the object (undefined when absent) once `predicate` holds for it,
   * checking now and after every change to it; rejects after `timeoutMs`.
   */
  waitFor<T = KubeObject>(
    resource: string,
    namespace: string | undefined,
    name: string,
    predicate: (obj: T | undefined) => boolean,
    timeoutMs = 10_000,
  ): Promise<T | undefined> {
    const def = this.catalog.require(resource);
    const ns = this.namespaceFor(def.namespaced, namespace);
    return new Promise((resolve, reject) => {
      let off = (): void => {};
      let timer: NodeJS.Timeout | undefined;
      const done = (fn: () => void) => {
        off();
        clearTimeout(timer);
        fn();
      };
      const check = (): boolean => {
        const o = this.find<T>(resource, ns, name);
        try {
          if (!predicate(o)) return false;
        } catch (err) {
          done(() => reject(err));
          return true;
        }
        done(() => resolve(o));
        return true;
      };
      if (check()) return;
      off = this.store.onChange((c) => {
        if (c.resource === def.plural && c.object.metadata.name === name && c.object.metadata.namespace === ns) check();
      });
      timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `waitFor ${resource} ${ns ? `${ns}/` : ''}${name}: not true within ${timeoutMs} ms; last state: ${JSON.stringify(this.find(resource, ns, name) ?? null)}`,
              ),
            ),
          ),
        timeoutMs,
      );
    });
  }

  // ---- HTTP ------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        // The old listener's port can linger for a moment after goDown(); retry on the same port.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0 || attempt >= 40) throw err;
        await delay(50);
      }
    }
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const route = parseRoute(url.pathname, this.catalog);
    const record: RequestRecord = { method, path: url.pathname, query: Object.fromEntries(url.searchParams), time: new Date() };
    const contentType = mediaType(req.headers['content-type']);
    if (contentType) record.contentType = contentType;
    if (!(route instanceof ApiError) && route.kind === 'resource') {
      const verb = verbOf(method, route, url.searchParams);
      if (verb) record.verb = verb;
      record.resource = route.def.plural;
      if (route.namespace !== undefined) record.namespace = route.namespace;
      if (route.name !== undefined) record.name = route.name;
      if (route.subresource !== undefined) record.subresource = route.subresource;
    }
    this.requests.push(record);
    try {
      const body = await readBody(req);
      if (this.faults.latencyMs > 0) await delay(this.faults.latencyMs);
      const fault = this.faults.take(record.verb ? { method, path: url.pathname, verb: record.verb } : { method, path: url.pathname });
      if (fault) throw injectedFailure(fault.status, fault.retryAfterSeconds);
      if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) throw unauthorized();
      if (route instanceof ApiError) throw route;
      if (route.kind === 'discovery') {
        if (method !== 'GET') throw methodNotAllowed(`${method} is not allowed on ${url.pathname}`);
        sendJson(res, 200, discoveryDocument(route.target, this.catalog, `127.0.0.1:${this.port ?? 0}`));
      } else {
        const ctx: HandlerContext = { registry: this.registry, store: this.store, hub: this.hub };
        const request = { method, path: url.pathname, query: url.searchParams, body, ...(contentType ? { contentType } : {}) };
        handleResource(ctx, route, request, res);
      }
    } catch (err) {
      sendError(res, err);
    } finally {
      record.status = res.statusCode;
    }
  }

  /** For namespaced kinds: the given namespace, else the object's, else 'default'; nothing for cluster-scoped ones. */
  private namespaceFor(namespaced: boolean, namespace: string | undefined, obj?: object): string | undefined {
    if (!namespaced) return undefined;
    const fromObj = (obj as { metadata?: { namespace?: string } } | undefined)?.metadata?.namespace;
    return namespace ?? fromObj ?? 'default';
  }
}

function out<T>(o: KubeObject): T {
  return clone(o) as unknown as T;
}

function nameOf(obj: object): string {
  const name = (obj as { metadata?: { name?: unknown } }).metadata?.name;
  if (typeof name !== 'string' || !name) throw new Error('TestApiServer: the object needs metadata.name');
  return name;
}
