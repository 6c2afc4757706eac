// The standalone pod source: a directory of manifests, read like kubelet's
// staticPodPath (non-recursive, hidden files ignored). Re-read on every change
// notice from fs.watch (debounced) and on a periodic resync, because inotify misses
// some changes (symlinked files, a directory replaced by another, network
// filesystems). Each read yields a full snapshot; only a changed one is delivered.
import { watch, type FSWatcher } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../log/logger.js';
import { realClock, type Clock, type Timer } from '../api/clock.js';
import { isManifestFileName, parseManifestFile } from './manifest-parser.js';
import { buildStaticPodSnapshot } from './static-pod-snapshot.js';
import type { PodSource, PodSourceUpdate, RejectedManifest } from './types.js';

export interface StaticPodSourceOptions {
  dir: string;
  nodeName: string;
  logger: Logger;
  clock?: Clock;
  /** Re-read period even without change notices (kubelet's fileCheckFrequency, 20 s). */
  resyncMs?: number;
  /** Change notices closer together than this are read once. */
  debounceMs?: number;
}

const DEFAULT_RESYNC_MS = 20_000;
const DEFAULT_DEBOUNCE_MS = 100;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function rejectionKey(r: RejectedManifest): string {
  return `${r.path}#${r.index}\u0000${r.reason}\u0000${r.message}`;
}

export class StaticPodSource implements PodSource {
  private readonly dir: string;
  private readonly nodeName: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly resyncMs: number;
  /** The files (and read failures) the last snapshot was built from. */
  private lastInputs?: string;
  private readonly debounceMs: number;

  private onUpdate?: (update: PodSourceUpdate) => void;
  private stopped = false;
  private watcher?: FSWatcher;
  /** Inode of the watched directory: a directory replaced by another needs a new watch. */
  private watchedIno?: number;
  private resyncTimer?: Timer;
  private debounceTimer?: Timer;
  private reading?: Promise<void>;
  private readAgain = false;

  /** Fingerprint of the last delivered snapshot (UIDs + rejections). */
  private lastDelivered?: string;
  /** When each current pod UID was first seen (kubernetes.io/config.seen). */
  private readonly seen = new Map<string, Date>();
  /** Rejections already logged, so an unchanged bad file is not logged on every resync. */
  private loggedRejections = new Set<string>();
  /** Last directory-level problem logged (missing, unreadable), to log it once. */
  private dirProblem?: string;

  constructor(options: StaticPodSourceOptions) {
    this.dir = resolve(options.dir);
    this.nodeName = options.nodeName;
    this.log = options.logger.child({ source: 'file', dir: this.dir });
    this.clock = options.clock ?? realClock;
    this.resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  async start(onUpdate: (update: PodSourceUpdate) => void): Promise<void> {
    if (this.onUpdate) throw new Error(`static pod source for ${this.dir} already started`);
    this.onUpdate = onUpdate;
    await this.sync();
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    this.debounceTimer?.cancel();
    this.closeWatcher();
    await this.reading?.catch(() => undefined);
  }

  /** Re-reads the directory now (an operator's "reload"); resolves when the read is done. */
  async resync(): Promise<void> {
    if (this.stopped) return;
    await this.sync();
  }

  /** Re-reads the directory; concurrent requests fold into one extra read. */
  private sync(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          await this.readOnce();
        } while (this.readAgain && !this.stopped);
      } catch (err) {
        this.log.error({ err }, 'reading static pod manifests failed');
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      void this.sync().finally(() => this.scheduleResync());
    }, this.resyncMs);
  }

  private onChangeNotice(): void {
    if (this.stopped || this.debounceTimer) return;
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      void this.sync();
    }, this.debounceMs);
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedIno = undefined;
  }

  private ensureWatcher(ino: number): void {
    if (this.stopped || (this.watcher && this.watchedIno === ino)) return;
    this.closeWatcher();
    try {
      const watcher = watch(this.dir, { persistent: false }, () => this.onChangeNotice());
      watcher.on('error', (err) => {
        this.log.debug({ err: err.message }, 'manifest directory watch failed; relying on the periodic resync until it is back');
        if (this.watcher === watcher) this.closeWatcher();
        this.onChangeNotice();
      });
      this.watcher = watcher;
      this.watchedIno = ino;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cannot watch the manifest directory; relying on the periodic resync');
    }
  }

  private reportDirProblem(problem: string | undefined, message?: string): void {
    if (problem === this.dirProblem) return;
    if (problem && message) this.log.warn({ file: this.dir }, message);
    else if (this.dirProblem) this.log.info({ file: this.dir }, 'static pod manifest directory is readable again');
    this.dirProblem = problem;
  }

  private async readOnce(): Promise<void> {
    let names: string[];
    try {
      const info = await stat(this.dir);
      if (!info.isDirectory()) throw Object.assign(new Error(`${this.dir} is not a directory`), { code: 'ENOTDIR' });
      this.ensureWatcher(info.ino);
      names = (await readdir(this.dir)).filter(isManifestFileName).sort();
    } catch (err) {
      const code = errnoCode(err);
      this.closeWatcher();
      // What is delivered now is not built from files: the next read must build again.
      this.lastInputs = undefined;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // Like kubelet: a missing directory is an empty source (it may be created later).
        this.reportDirProblem(
          code,
          `static pod manifest directory ${this.dir} does not exist; running no static pods and checking again every ${this.resyncMs / 1000}s`,
        );
        this.deliver({ pods: [], rejected: [] });
      } else {
        // Unreadable for another reason: keep the pods we have rather than killing them.
        this.reportDirProblem(code ?? 'error', `cannot read static pod manifest directory ${this.dir}: ${(err as Error).message}; keeping the current pods`);
      }
      return;
    }
    this.reportDirProblem(undefined);

    const texts: Array<{ path: string; text: string }> = [];
    const unreadable: RejectedManifest[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        const code = errnoCode(err);
        // Gone since the listing, or a directory named like a manifest: not a manifest.
        if (code === 'ENOENT' || code === 'EISDIR') continue;
        unreadable.push({ path, index: 0, reason: 'ReadError', message: `cannot read the file: ${(err as Error).message}` });
        continue;
      }
      texts.push({ path, text });
    }
    // The periodic re-read finds the same files almost always: parsing a hundred pods'
    // YAML again would only rebuild the snapshot already delivered.
    const inputs = JSON.stringify([texts, unreadable.map(rejectionKey)]);
    if (inputs === this.lastInputs) return;
    this.lastInputs = inputs;
    const manifests = texts.flatMap(({ path, text }) => parseManifestFile(path, text));

    const snapshot = buildStaticPodSnapshot(manifests, { nodeName: this.nodeName, seenAt: (uid) => this.seenAt(uid) });
    if (snapshot.ignored.length) this.log.debug({ documents: snapshot.ignored }, 'ignoring manifest documents that are not Pods');
    this.deliver({ pods: snapshot.pods, rejected: [...snapshot.rejected, ...unreadable] });
  }

  private seenAt(uid: string): Date {
    let at = this.seen.get(uid);
    if (!at) {
      at = new Date(this.clock.now());
      this.seen.set(uid, at);
    }
    return at;
  }

  /** Delivers the snapshot when it differs from the last one delivered. */
  private deliver(update: PodSourceUpdate): void {
    if (this.stopped) return;
    const uids = update.pods.map((p) => p.metadata.uid ?? '');
    for (const uid of [...this.seen.keys()]) if (!uids.includes(uid)) this.seen.delete(uid);
    const fingerprint = JSON.stringify({ uids, rejected: update.rejected.map(rejectionKey) });
    if (fingerprint === this.lastDelivered) return;
    this.lastDelivered = fingerprint;

    const logged = new Set<string>();
    for (const r of update.rejected) {
      const key = rejectionKey(r);
      logged.add(key);
      if (this.loggedRejections.has(key)) continue;
      this.log.warn(
        { file: r.path, field: r.fields?.join(', ') || undefined, pod: r.name ? `${r.namespace ?? 'default'}/${r.name}` : undefined, reason: r.reason },
        `rejected static pod manifest ${r.path}${r.index ? `#${r.index}` : ''}: ${r.message}`,
      );
    }
    this.loggedRejections = logged;
    this.log.debug({ pods: update.pods.length, rejected: update.rejected.length }, 'static pod snapshot changed');
    try {
      this.onUpdate?.(update);
    } catch (err) {
      this.log.error({ err }, 'static pod update handler failed');
    }
  }
}
