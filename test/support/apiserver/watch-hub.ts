// Watches over the store's change feed. Keeps a bounded history window (as the
// apiserver's watch cache over etcd's compacted log) so a watch can resume from a
// resourceVersion, answers "410 Expired" for one older than the window, filters by
// namespace and selectors with the real server's ADDED/DELETED translation for
// objects that start or stop matching, and sends periodic bookmarks.
import { expired, type Status } from './errors.js';
import { matchesFilter, type ObjectFilter } from './selectors.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { keyOf, type Change, type KubeObject, type ObjectStore } from './store.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject | Status | { kind: string; apiVersion: string; metadata: { resourceVersion: string } };
}

/** Where a watch's events go: the HTTP response in the server, an array in unit tests. */
export interface WatchSink {
  send(event: WatchEvent): void;
  /** End the stream normally (timeout, server-side close). */
  end(): void;
  /** Cut the stream abruptly, as a dropped connection. */
  destroy(): void;
}

export interface WatchSpec {
  def: ResourceDef;
  /** Only this namespace; all when undefined. */
  namespace?: string;
  filter: ObjectFilter;
  /** Events after this version; undefined means "current objects as ADDED, then live". */
  sinceRv?: number;
  bookmarks: boolean;
  timeoutSeconds?: number;
}

export interface WatchHubOptions {
  /** How many changes (of all resources) stay replayable. */
  historyWindow: number;
  bookmarkIntervalMs: number;
}

interface Watcher {
  spec: WatchSpec;
  sink: WatchSink;
  timers: NodeJS.Timeout[];
}

export class WatchHub {
  private history: Change[] = [];
  /** The newest version whose change is no longer replayable; watching from before it is 410. */
  private compactedRv: number;
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: WatchHubOptions,
  ) {
    this.compactedRv = store.currentRv();
    store.onChange((c) => this.record(c));
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  isExpired(rv: number): boolean {
    return rv < this.compactedRv;
  }

  expiredStatus(rv: number): Status {
    return expired(`too old resource version: ${rv} (${this.compactedRv})`).status;
  }

  /** Forgets all history: any watch or continue token from before now gets 410. */
  compact(): void {
    this.compactedRv = this.store.currentRv();
    this.history = [];
  }

  /**
   * The objects of a resource as they were at `rv` (for continue tokens and exact
   * lists), rebuilt from the current state by undoing newer changes; undefined when
   * `rv` is outside the history window or in the future.
   */
  objectsAt(resource: string, rv: number): KubeObject[] | undefined {
    if (this.isExpired(rv) || rv > this.store.currentRv()) return undefined;
    const current = this.store.list(resource);
    if (rv === this.store.currentRv()) return current;
    const byKey = new Map(current.map((o) => [keyOf(o), o]));
    for (let i = this.history.length - 1; i >= 0; i--) {
      const c = this.history[i]!;
      if (c.rv <= rv) break;
      if (c.resource !== resource) continue;
      if (c.type === 'ADDED') byKey.delete(keyOf(c.object));
      else byKey.set(keyOf(c.prev!), c.prev!);
    }
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /** Starts a watch; returns the function that unregisters it (call it when the client goes away). */
  open(spec: WatchSpec, sink: WatchSink): () => void {
    if (spec.sinceRv !== undefined && this.isExpired(spec.sinceRv)) {
      sink.send({ type: 'ERROR', object: this.expiredStatus(spec.sinceRv) });
      sink.end();
      return () => {};
    }
    if (spec.sinceRv === undefined) {
      for (const o of this.store.list(spec.def.plural)) {
        if (inScope(spec, o) && matchesFilter(spec.filter, o)) sink.send({ type: 'ADDED', object: o });
      }
    } else {
      for (const c of this.history) if (c.rv > spec.sinceRv) deliver(spec, sink, c);
    }
    const watcher: Watcher = { spec, sink, timers: [] };
    this.watchers.add(watcher);
    const close = () => this.unregister(watcher);
    if (spec.bookmarks) {
      watcher.timers.push(setInterval(() => sink.send(this.bookmark(spec.def)), this.options.bookmarkIntervalMs));
    }
    if (spec.timeoutSeconds !== undefined && spec.timeoutSeconds > 0) {
      watcher.timers.push(
        setTimeout(() => {
          close();
          sink.end();
        }, spec.timeoutSeconds * 1000),
      );
    }
    return close;
  }

  /** Ends every watch normally, as an apiserver does when a watch times out. */
  endAll(): void {
    for (const w of [...this.watchers]) {
      this.unregister(w);
      w.sink.end();
    }
  }

  /** Cuts every watch abruptly. */
  destroyAll(): void {
    for (const w of [...this.watchers]) {
      this.unregister(w);
      w.sink.destroy();
    }
  }

  private bookmark(def: ResourceDef): WatchEvent {
    return {
      type: 'BOOKMARK',
      object: { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.store.currentRv()) } },
    };
  }

  private unregister(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    w.timers = [];
    this.watchers.delete(w);
  }

  private record(change: Change): void {
    this.history.push(change);
    while (this.history.length > this.options.historyWindow) this.compactedRv = this.history.shift()!.rv;
    for (const w of [...this.watchers]) deliver(w.spec, w.sink, change);
  }
}

function inScope(spec: WatchSpec, o: KubeObject): boolean {
  return spec.namespace === undefined || o.metadata.namespace === spec.namespace;
}

/** One change as this watcher sees it through its namespace and selectors (or not at all). */
function deliver(spec: WatchSpec, sink: WatchSink, c: Change): void {
  if (c.resource !== spec.def.plural || !inScope(spec, c.object)) return;
  if (spec.sinceRv !== undefined && c.rv <= spec.sinceRv) return;
  const now = matchesFilter(spec.filter, c.object);
  if (c.type === 'ADDED') {
    if (now) sink.send({ type: 'ADDED', object: c.object });
    return;
  }
  const before = matchesFilter(spec.filter, c.prev!);
  if (c.type === 'DELETED') {
    if (before) sink.send({ type: 'DELETED', object: c.object });
    return;
  }
  if (before && now) sink.send({ type: 'MODIFIED', object: c.object });
  else if (now) sink.send({ type: 'ADDED', object: c.object });
  else if (before) {
    // The object left the selection: the watcher sees its last matching state deleted at this version.
    sink.send({ type: 'DELETED', object: { ...c.prev!, metadata: { ...c.prev!.metadata, resourceVersion: String(c.rv) } } });
  }
}
