// A tiny HTTP server on 127.0.0.1 for the client and reflector tests: a
// programmable handler plus a stateful fake of one resource collection with the
// apiserver behaviours the reflector must survive (pagination, watch from a
// resourceVersion, bookmarks, 410 after compaction, dropped sockets, 5xx).
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];
  handler: Handler = (_req, res) => sendStatus(res, 404, 'NotFound', 'no handler');
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        void Promise.resolve(this.handler(recorded, res)).catch((err: unknown) => {
          res.destroy(err as Error);
        });
      });
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function statusBody(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, code, statusBody(code, reason, message), headers);
}

/** Polls `test` until it holds (no fixed sleeps, no timing assertions). */
export async function eventually(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakeObject;
}
interface Watcher {
  res: ServerResponse;
  from: number;
  bookmarks: boolean;
}

/** One namespaced collection (`/api/v1/namespaces/ns/configmaps`) with apiserver watch semantics. */
export class FakeCollection {
  readonly objects = new Map<string, FakeObject>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  rv = 100;
  /** Watches and continue tokens older than this get 410 Expired. */
  compactedRv = 0;
  /** Status codes to answer the next LIST requests with, one each. */
  failLists: number[] = [];
  /** Status codes to answer the next WATCH requests with, one each. */
  failWatches: number[] = [];
  /** Answer watches from a compacted version with HTTP 410 instead of an ERROR event. */
  goneAsHttp = false;
  /** Changes are recorded but not pushed to open watches (as if the watch were cut). */
  quiet = false;
  private uidSeq = 0;

  constructor(readonly namespace = 'default') {}

  get openWatches(): number {
    return this.watchers.size;
  }

  create(name: string, data: Record<string, string> = {}): FakeObject {
    const object: FakeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: this.namespace, uid: `uid-${name}-${++this.uidSeq}` },
      data,
    };
    return this.record('ADDED', object);
  }

  update(name: string, data: Record<string, string>): FakeObject {
    const old = this.objects.get(name);
    if (!old) throw new Error(`no ${name}`);
    return this.record('MODIFIED', { ...old, metadata: { ...old.metadata }, data });
  }

  delete(name: string): FakeObject {
    const old = this.objects.get(name);
    if (!old) throw new Error(`no ${name}`);
    return this.record('DELETED', { ...old, metadata: { ...old.metadata } });
  }

  /** Other resources changed: the global version moves on without events here. */
  advance(by = 1): void {
    this.rv += by;
  }

  /** Forget history: watches from older versions now get 410. */
  compact(): void {
    this.compactedRv = this.rv;
  }

  bookmark(): void {
    for (const w of this.watchers) {
      if (w.bookmarks) writeEvent(w.res, 'BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } });
    }
  }

  /** Cut every open watch without a clean end (the connection dies). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /** End every open watch cleanly (what the server does at timeoutSeconds). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  readonly handler: Handler = (req, res) => {
    if (req.query.get('watch') === 'true') this.serveWatch(req, res);
    else this.serveList(req, res);
  };

  private record(type: HistoryEntry['type'], object: FakeObject): FakeObject {
    this.rv++;
    object.metadata.resourceVersion = String(this.rv);
    if (type === 'DELETED') this.objects.delete(object.metadata.name);
    else this.objects.set(object.metadata.name, object);
    this.history.push({ rv: this.rv, type, object });
    if (!this.quiet) {
      for (const w of this.watchers) writeEvent(w.res, type, object);
    }
    return object;
  }

  private serveList(req: RecordedRequest, res: ServerResponse): void {
    const fail = this.failLists.shift();
    if (fail) return sendStatus(res, fail, 'InternalError', 'injected list failure');
    const items = [...this.objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const limit = Number(req.query.get('limit') ?? 0);
    let offset = 0;
    let listRv = this.rv;
    const token = req.query.get('continue');
    if (token) {
      const [rv, off] = Buffer.from(token, 'base64').toString('utf8').split(':').map(Number);
      if ((rv ?? 0) < this.compactedRv) return sendStatus(res, 410, 'Expired', 'continue token expired');
      listRv = rv ?? this.rv;
      offset = off ?? 0;
    }
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
    const next = limit > 0 && offset + limit < items.length ? Buffer.from(`${listRv}:${offset + limit}`).toString('base64') : undefined;
    sendJson(res, 200, {
      kind: 'ConfigMapList',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(listRv), ...(next ? { continue: next } : {}) },
      items: page.map((o) => ({ metadata: o.metadata, data: o.data })),
    });
  }

  private serveWatch(req: RecordedRequest, res: ServerResponse): void {
    const fail = this.failWatches.shift();
    if (fail) return sendStatus(res, fail, 'InternalError', 'injected watch failure');
    const from = Number(req.query.get('resourceVersion') ?? this.rv);
    if (from < this.compactedRv) {
      if (this.goneAsHttp) return sendStatus(res, 410, 'Gone', 'too old resource version');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      writeEvent(res, 'ERROR', statusBody(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`));
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    for (const e of this.history) if (e.rv > from) writeEvent(res, e.type, e.object);
    const watcher: Watcher = { res, from, bookmarks: req.query.get('allowWatchBookmarks') === 'true' };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }
}

export function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}
