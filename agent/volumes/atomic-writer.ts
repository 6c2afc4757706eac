// kubelet's AtomicWriter: a running container sees either the whole old set of
// files or the whole new one, never a mix. Each version is written into a fresh
// hidden directory `..<UTC timestamp>.<random>`; `..data` is a symlink to the
// current one, replaced by one rename(2) of `..data_tmp`; the names users see are
// symlinks `name -> ..data/name`. A reader holding an old file keeps reading the
// old bytes (the old directory is unlinked, not rewritten).
//
// Called on every pod sync, so an unchanged payload must cost next to nothing and
// write nothing: a digest per volume directory is kept in memory, checked against
// the `..data` link; after an agent restart the files on disk are compared instead.
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rename, statfs, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isMountPoint, mountTmpfs, unmount } from './mount.js';
import { validatePayload, type Payload } from './payload.js';
import { removeTreeSafely } from './safe-remove.js';

export type { FileProjection, Payload } from './payload.js';

const DATA_DIR = '..data';
const DATA_TMP = '..data_tmp';
const DIR_MODE = 0o755;
/** With an fsGroup, directories are group-readable and setgid, as kubelet's SetVolumeOwnership leaves them. */
const FS_GROUP_DIR_MODE = 0o2755;
const TMPFS_MAGIC = 0x01021994;
/** What `..data` may point at: one of our own hidden directories, nothing else. */
const TIMESTAMP_DIR = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.[^/]+$/;

export interface AtomicWriteOptions {
  /**
   * The pod's fsGroup: files and directories get this group and group read
   * (kubelet's SetVolumeOwnership for a read-only volume), so a non-root
   * container in that group can read a 0400 secret.
   */
  fsGroup?: number;
}

interface Published {
  /** Name of the timestamped directory `..data` pointed at after the write. */
  tsDir: string;
  digest: string;
}

/** Volume directory → what was last written there (or found on disk to match). */
const published = new Map<string, Published>();
/** One operation at a time per directory: a sweep must not race a write, nor two mounts each other. */
const inFlight = new Map<string, Promise<unknown>>();

/**
 * Makes `dir` hold exactly `payload` (paths relative to `dir`), atomically.
 * Returns whether anything was written. Throws PayloadError for a bad path.
 */
export async function writeAtomically(dir: string, payload: Payload, options: AtomicWriteOptions = {}): Promise<boolean> {
  const target = resolve(dir);
  const clean = validatePayload(payload);
  return serialized(target, () => write(target, clean, options.fsGroup));
}

/** Drops what is remembered about `dir` (its volume is being torn down). */
export function forgetWritten(dir: string): void {
  published.delete(resolve(dir));
}

/**
 * Prepares a volume directory for the writer and writes the payload: creates the
 * directory and, for a volume holding secrets, mounts a tmpfs on it first so no
 * secret byte ever reaches the node's disk.
 */
export async function publishPayload(dir: string, payload: Payload, options: AtomicWriteOptions & { tmpfs: boolean }): Promise<boolean> {
  const target = resolve(dir);
  // Validated first: a bad path must not leave a directory or a mount behind.
  const clean = validatePayload(payload);
  return serialized(target, async () => {
    await ensureDirectory(target);
    if (options.tmpfs) await ensureTmpfs(target);
    return write(target, clean, options.fsGroup);
  });
}

/** Unmounts the volume's tmpfs (if any), then removes the directory without following symlinks. */
export async function tearDownPayloadDir(dir: string): Promise<void> {
  const target = resolve(dir);
  await serialized(target, async () => {
    published.delete(target);
    if (await isMountPoint(target)) await unmount(target);
    await removeTreeSafely(target);
  });
}

async function serialized<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = inFlight.get(dir) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  inFlight.set(dir, run);
  try {
    return await run;
  } finally {
    if (inFlight.get(dir) === run) inFlight.delete(dir);
  }
}

async function write(dir: string, payload: Payload, fsGroup: number | undefined): Promise<boolean> {
  const digest = payloadDigest(payload, fsGroup);
  const current = await currentTimestampDir(dir);
  const known = published.get(dir);
  if (current !== undefined && known?.tsDir === current && known.digest === digest) return false;

  // Compare with the disk only when memory does not know what `..data` holds (an agent restart).
  if (current !== undefined && known?.tsDir !== current && (await matchesOnDisk(join(dir, current), payload, fsGroup))) {
    // Same content (an agent restart): make sure the visible links are right, keep the version.
    await linkUserVisible(dir, payload);
    await removeStale(dir, current);
    published.set(dir, { tsDir: current, digest });
    return false;
  }

  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (fsGroup !== undefined) await setGroup(dir, FS_GROUP_DIR_MODE, fsGroup);
  const tsDir = await writeVersion(dir, payload, fsGroup);
  try {
    await ignoreMissing(unlink(join(dir, DATA_TMP)));
    await symlink(tsDir, join(dir, DATA_TMP));
    // The one step containers can observe: rename(2) replaces ..data atomically.
    await rename(join(dir, DATA_TMP), join(dir, DATA_DIR));
  } catch (err) {
    await removeTreeSafely(join(dir, tsDir)).catch(() => undefined);
    throw err;
  }
  published.set(dir, { tsDir, digest });
  await linkUserVisible(dir, payload);
  await removeStale(dir, tsDir);
  return true;
}

/** The name `..data` points at, or undefined when there is none (or it points anywhere unexpected). */
async function currentTimestampDir(dir: string): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(join(dir, DATA_DIR));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EINVAL') throw new Error(`${join(dir, DATA_DIR)} exists and is not a symlink; refusing to write the volume`);
    throw err;
  }
  return TIMESTAMP_DIR.test(target) ? target : undefined;
}

function payloadDigest(payload: Payload, fsGroup: number | undefined): string {
  const hash = createHash('sha256');
  hash.update(`fsGroup=${fsGroup ?? ''}\0`);
  for (const path of [...payload.keys()].sort()) {
    const file = payload.get(path);
    if (!file) continue;
    hash.update(`${path}\0${file.mode}\0${file.data.length}\0`);
    hash.update(file.data);
  }
  return hash.digest('hex');
}

function fileMode(mode: number, fsGroup: number | undefined): number {
  return fsGroup === undefined ? mode : mode | 0o440;
}

function dirMode(fsGroup: number | undefined): number {
  return fsGroup === undefined ? DIR_MODE : FS_GROUP_DIR_MODE;
}

/** Whether the version directory holds exactly the payload: same files, bytes, modes (and group). */
async function matchesOnDisk(tsPath: string, payload: Payload, fsGroup: number | undefined): Promise<boolean> {
  const files = await listFiles(tsPath);
  if (files === undefined || files.size !== payload.size) return false;
  for (const [path, file] of payload) {
    const st = files.get(path);
    if (st === undefined) return false;
    if ((st.mode & 0o7777) !== fileMode(file.mode, fsGroup)) return false;
    if (fsGroup !== undefined && st.gid !== fsGroup) return false;
    if (st.size !== file.data.length) return false;
    if (!(await readFile(join(tsPath, path))).equals(file.data)) return false;
  }
  return true;
}

interface FileStat {
  mode: number;
  gid: number;
  size: number;
}

/** Regular files under `root` by relative path; undefined if anything else (a symlink, a device) is there. */
async function listFiles(root: string): Promise<Map<string, FileStat> | undefined> {
  const files = new Map<string, FileStat>();
  const rootStat = await lstat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) return undefined;
  const pending = [''];
  while (pending.length > 0) {
    const rel = pending.pop() ?? '';
    for (const name of await readdir(join(root, rel))) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, relPath));
      if (st.isDirectory()) pending.push(relPath);
      else if (st.isFile()) files.set(relPath, { mode: st.mode, gid: st.gid, size: st.size });
      else return undefined;
    }
  }
  return files;
}

/** Writes the payload into a new `..<timestamp>.<random>` directory and returns its name. */
async function writeVersion(dir: string, payload: Payload, fsGroup: number | undefined): Promise<string> {
  const stamp = new Date().toISOString().replace(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}).*$/, '$1_$2_$3_$4_$5_$6');
  const tsPath = await mkdtemp(join(dir, `..${stamp}.`));
  try {
    // Others (the container's user) must be able to walk in whatever the umask.
    await chmod(tsPath, dirMode(fsGroup));
    if (fsGroup !== undefined) await chown(tsPath, -1, fsGroup);
    const made = new Set<string>();
    for (const path of [...payload.keys()].sort()) {
      const file = payload.get(path);
      if (!file) continue;
      await makeParents(tsPath, path, made, fsGroup);
      const handle = await open(join(tsPath, path), 'wx', 0o600);
      try {
        await handle.writeFile(file.data);
        // Explicit chmod: the mode given to open(2) is cut by the umask.
        await handle.chmod(fileMode(file.mode, fsGroup));
        if (fsGroup !== undefined) await handle.chown(-1, fsGroup);
      } finally {
        await handle.close();
      }
    }
  } catch (err) {
    await removeTreeSafely(tsPath).catch(() => undefined);
    throw err;
  }
  return basename(tsPath);
}

async function makeParents(tsPath: string, path: string, made: Set<string>, fsGroup: number | undefined): Promise<void> {
  const segments = path.split('/').slice(0, -1);
  for (let i = 1; i <= segments.length; i++) {
    const rel = segments.slice(0, i).join('/');
    if (made.has(rel)) continue;
    const full = join(tsPath, rel);
    await mkdir(full, { mode: DIR_MODE });
    await chmod(full, dirMode(fsGroup));
    if (fsGroup !== undefined) await chown(full, -1, fsGroup);
    made.add(rel);
  }
}

/** Top-level `name -> ..data/name` links for the payload; links of names no longer in it removed. */
async function linkUserVisible(dir: string, payload: Payload): Promise<void> {
  const top = new Set([...payload.keys()].map((p) => p.split('/')[0] ?? p));
  for (const name of top) {
    const path = join(dir, name);
    const want = `${DATA_DIR}/${name}`;
    let found: string | undefined;
    try {
      found = await readlink(path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EINVAL') throw new Error(`${path} exists and is not a symlink into ${DATA_DIR}; refusing to replace it`);
      if (code !== 'ENOENT') throw err;
    }
    if (found === want) continue;
    if (found !== undefined) await unlink(path);
    await symlink(want, path);
  }
  for (const name of await readdir(dir)) {
    if (name.startsWith('..') || top.has(name)) continue;
    const path = join(dir, name);
    // Only links the writer made: anything else in the directory is not ours to delete.
    const found = await readlink(path).catch(() => undefined);
    if (found === `${DATA_DIR}/${name}`) await ignoreMissing(unlink(path));
  }
}

/** Removes hidden entries other than `..data` and the current version: the old version, leftovers of a crash. */
async function removeStale(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith('..') || name === DATA_DIR || name === keep) continue;
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) await removeTreeSafely(path);
    else await ignoreMissing(unlink(path));
  }
}

async function ensureDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: DIR_MODE });
    await chmod(dir, DIR_MODE);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  }
}

/**
 * Mounts the volume's tmpfs unless one is there. Checked with two lstats and a
 * statfs (a tmpfs of its own: another device than the parent, of type tmpfs) so a
 * sync stays cheap; mountTmpfs reads the mount table only when that fails.
 */
async function ensureTmpfs(dir: string): Promise<void> {
  const [here, parent, fs] = await Promise.all([lstat(dir), lstat(dirname(resolve(dir))), statfs(dir)]);
  if (here.dev !== parent.dev && Number(fs.type) === TMPFS_MAGIC) return;
  await mountTmpfs(dir, { mode: DIR_MODE });
}

async function setGroup(path: string, mode: number, gid: number): Promise<void> {
  await chown(path, -1, gid);
  await chmod(path, mode);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

async function ignoreMissing(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
