// The standalone proxy's Services: the `kind: Service` documents of a manifests
// directory, which it shares with the agent's static pods. Each side takes its own
// kinds and ignores the rest silently. The directory is polled (stat of every
// manifest file; a file is re-read only when its mtime, size or inode changed)
// and the complete list of Services is delivered whenever it differs.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isJsonObject } from '../../api/json-object.js';
import type { Logger } from '../../log/logger.js';
import { realClock, type Clock, type Timer } from '../../api/clock.js';
import { isManifestFileName, parseManifestFile } from '../../sources/manifest-parser.js';
import { serviceKeyOf, type Service } from './service-types.js';

export interface StandaloneServiceSourceOptions {
  dir: string;
  logger: Logger;
  clock?: Clock;
  /** Poll period; default 2 s. */
  pollMs?: number;
}

/**
 * Receives every Service of the directory, sorted by namespace/name, and where
 * each came from (`namespace/name` → `<file>#<document index>`), for messages.
 */
export type ServicesHandler = (services: Service[], origins: ReadonlyMap<string, string>) => void;

export const DEFAULT_SERVICE_POLL_MS = 2000;

interface FileEntry {
  /** mtime, ctime, size and inode: a change of any means the file must be read again. */
  stamp: string;
  services: Array<{ service: Service; where: string }>;
  /** Problems logged for this version of the file, kept as logged while it is unchanged. */
  logKeys: Set<string>;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class StandaloneServiceSource {
  private readonly dir: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private onUpdate?: ServicesHandler;
  private stopped = false;
  private timer?: Timer;
  private reading?: Promise<void>;
  private readonly files = new Map<string, FileEntry>();
  private lastDelivered?: string;
  /** Messages already logged, so a file that stays bad is reported once. */
  private logged = new Set<string>();
  private dirProblem?: string;

  constructor(options: StandaloneServiceSourceOptions) {
    this.dir = resolve(options.dir);
    this.log = options.logger.child({ source: 'services', dir: this.dir });
    this.clock = options.clock ?? realClock;
    this.pollMs = options.pollMs ?? DEFAULT_SERVICE_POLL_MS;
  }

  /** Reads the directory once and delivers the first list before resolving, then polls. */
  async start(onUpdate: ServicesHandler): Promise<void> {
    if (this.onUpdate) throw new Error(`service source for ${this.dir} already started`);
    this.onUpdate = onUpdate;
    await this.poll();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.reading?.catch(() => undefined);
  }

  /** Reads the directory now; concurrent calls share one read. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.reading ??= this.readOnce()
      .catch((err: unknown) => this.log.error({ err }, 'reading Service manifests failed'))
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.pollMs);
  }

  private logOnce(key: string, level: 'warn' | 'info', fields: Record<string, unknown>, msg: string, seen: Set<string>): void {
    seen.add(key);
    if (!this.logged.has(key)) this.log[level](fields, msg);
  }

  private reportDirProblem(problem: string | undefined, message?: string): void {
    if (problem === this.dirProblem) return;
    if (problem && message) this.log.warn({ file: this.dir }, message);
    this.dirProblem = problem;
  }

  private async readOnce(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter(isManifestFileName).sort();
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // A missing directory holds no Services (it may be created later).
        this.reportDirProblem(code, `manifest directory ${this.dir} does not exist; serving no Services until it does`);
        this.files.clear();
        this.deliver([], new Map());
      } else {
        // Unreadable for another reason: keep the Services we have rather than dropping their rules.
        this.reportDirProblem(code ?? 'error', `cannot read manifest directory ${this.dir}: ${(err as Error).message}; keeping the current Services`);
      }
      return;
    }
    this.reportDirProblem(undefined);

    const seen = new Set<string>();
    const present = new Set<string>();
    for (const name of names) {
      const path = join(this.dir, name);
      const entry = await this.readFileEntry(path, seen);
      if (!entry) continue;
      present.add(path);
    }
    for (const path of [...this.files.keys()]) if (!present.has(path)) this.files.delete(path);

    const services: Service[] = [];
    const origins = new Map<string, string>();
    for (const path of [...present].sort()) {
      for (const { service, where } of this.files.get(path)?.services ?? []) {
        const key = serviceKeyOf(service);
        const first = origins.get(key);
        if (first !== undefined) {
          this.logOnce(
            `dup\0${key}\0${where}`,
            'warn',
            { file: where, service: key },
            `${where}: Service "${key}" is also defined in ${first}; ignoring this one`,
            seen,
          );
          continue;
        }
        origins.set(key, where);
        services.push(service);
      }
    }
    this.logged = seen;
    services.sort((a, b) => serviceKeyOf(a).localeCompare(serviceKeyOf(b)));
    this.deliver(services, origins);
  }

  /** The file's Services, from the cache when its stamp is unchanged; undefined when it is gone. */
  private async readFileEntry(path: string, seen: Set<string>): Promise<FileEntry | undefined> {
    let stamp: string;
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      stamp = `${info.mtimeMs}:${info.ctimeMs}:${info.size}:${info.ino}`;
    } catch {
      return undefined;
    }
    const cached = this.files.get(path);
    if (cached && cached.stamp === stamp) {
      for (const key of cached.logKeys) seen.add(key);
      return cached;
    }
    const logKeys = new Set<string>();
    let entry: FileEntry;
    try {
      const text = await readFile(path, 'utf8');
      entry = { stamp, services: this.servicesOf(path, text, logKeys), logKeys };
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'EISDIR') return undefined;
      this.logOnce(`read\0${path}\0${code ?? ''}`, 'warn', { file: path }, `cannot read ${path}: ${(err as Error).message}; ignoring it`, logKeys);
      entry = { stamp, services: [], logKeys };
    }
    for (const key of logKeys) seen.add(key);
    this.files.set(path, entry);
    return entry;
  }

  private servicesOf(path: string, text: string, seen: Set<string>): FileEntry['services'] {
    const docs = parseManifestFile(path, text);
    const broken = docs.find((d) => d.error !== undefined);
    if (broken) {
      // A file that does not parse is ignored whole: it may be half-written.
      this.logOnce(`parse\0${path}\0${broken.error ?? ''}`, 'warn', { file: path }, `ignoring ${path}, which cannot be parsed: ${broken.error ?? ''}`, seen);
      return [];
    }
    const out: FileEntry['services'] = [];
    for (const doc of docs) {
      if (doc.kind !== 'Service' || !doc.object) continue;
      const where = `${path}#${doc.index}`;
      if (doc.apiVersion !== 'v1') {
        this.logOnce(
          `version\0${path}\0${doc.index}\0${doc.apiVersion ?? ''}`,
          'warn',
          { file: where },
          `${where}: Service with apiVersion ${JSON.stringify(doc.apiVersion ?? '')} is not supported (expected "v1"); ignoring it`,
          seen,
        );
        continue;
      }
      const metadata = isJsonObject(doc.object.metadata) ? { ...doc.object.metadata } : {};
      if (metadata.namespace === undefined || metadata.namespace === null || metadata.namespace === '') metadata.namespace = 'default';
      const spec = isJsonObject(doc.object.spec) ? doc.object.spec : {};
      out.push({ service: { ...doc.object, metadata, spec } as unknown as Service, where });
    }
    return out;
  }

  /** Delivers the list when it differs from the last one delivered. */
  private deliver(services: Service[], origins: Map<string, string>): void {
    if (this.stopped) return;
    const fingerprint = JSON.stringify({ services, origins: [...origins] });
    if (fingerprint === this.lastDelivered) return;
    this.lastDelivered = fingerprint;
    this.log.debug({ services: services.length }, 'Service manifests changed');
    try {
      this.onUpdate?.(services, origins);
    } catch (err) {
      this.log.error({ err }, 'Service update handler failed');
    }
  }
}
