// Thin wrappers over mount(8)/umount(8) and a reader of /proc/self/mountinfo. The
// agent runs as root in the host's mount namespace; every path here is one the
// agent owns (pod dirs) or a /proc/<pid>/fd magic link it opened itself.
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';

export class MountError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MountError';
  }
}

/** One line of /proc/self/mountinfo (only the fields the agent uses). */
export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  /** Path of the mount point, octal escapes (\040 …) decoded. */
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function decodeMountInfoField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses the text of /proc/<pid>/mountinfo; lines that do not parse are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    // Optional fields (shared:N, master:N …) vary in number; '-' ends them.
    const dash = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[dash + 1];
    if (dash < 0 || mountPoint === undefined || fsType === undefined) continue;
    entries.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      mountPoint: decodeMountInfoField(mountPoint),
      fsType: decodeMountInfoField(fsType),
      source: decodeMountInfoField(fields[dash + 2] ?? ''),
    });
  }
  return entries;
}

async function readMountInfo(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** mountinfo holds canonical paths; compare against the real path when there is one. */
async function canonicalPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

function isSameOrUnder(path: string, dir: string): boolean {
  if (path === dir) return true;
  return path.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

function depth(path: string): number {
  return path.split('/').filter((s) => s !== '').length;
}

interface CommandResult {
  ok: boolean;
  stderr: string;
}

function run(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((done) => {
    // C locale: the callers match umount's English messages.
    execFile(command, args, { env: { ...process.env, LC_ALL: 'C', LANG: 'C' } }, (err, _stdout, stderr) => {
      done({ ok: err === null, stderr: String(stderr).trim() });
    });
  });
}

async function runOrThrow(command: string, args: string[], what: string): Promise<void> {
  const result = await run(command, args);
  if (!result.ok) throw new MountError(`${what} failed: ${command} ${args.join(' ')}: ${result.stderr || 'no message'}`);
}

/** True when `path` is the mount point of at least one mount. */
export async function isMountPoint(path: string): Promise<boolean> {
  const target = await canonicalPath(path);
  return (await readMountInfo()).some((m) => m.mountPoint === target);
}

/**
 * Every mount point at or under `dir`, deepest first (so unmounting in order never
 * hits a busy parent). A path with stacked mounts appears once; see unmountAllUnder.
 */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const base = await canonicalPath(dir);
  const points = new Set<string>();
  for (const m of await readMountInfo()) {
    if (isSameOrUnder(m.mountPoint, base)) points.add(m.mountPoint);
  }
  return [...points].sort((a, b) => depth(b) - depth(a) || b.length - a.length || (a < b ? -1 : 1));
}

/** Mounts a tmpfs on the existing directory `dir`, unless the topmost mount there already is one. */
export async function mountTmpfs(dir: string, options: { sizeBytes?: number; mode?: number }): Promise<void> {
  const target = await canonicalPath(dir);
  const here = (await readMountInfo()).filter((m) => m.mountPoint === target);
  if (here.at(-1)?.fsType === 'tmpfs') return;
  const opts: string[] = [];
  if (options.sizeBytes !== undefined) opts.push(`size=${Math.max(0, Math.floor(options.sizeBytes))}`);
  if (options.mode !== undefined) opts.push(`mode=${(options.mode & 0o7777).toString(8).padStart(4, '0')}`);
  const args = ['-t', 'tmpfs', ...(opts.length > 0 ? ['-o', opts.join(',')] : []), 'tmpfs', target];
  await runOrThrow('mount', args, `mounting a tmpfs on ${target}`);
}

/**
 * Binds `source` onto `target`. --no-canonicalize keeps mount(8) from realpath-ing
 * the source: a /proc/<pid>/fd/<n> source must reach mount(2) as the magic link, so
 * the kernel binds exactly the object behind the fd and not whatever a path names now.
 */
export async function bindMount(source: string, target: string, options: { readOnly?: boolean } = {}): Promise<void> {
  const to = resolve(target);
  await runOrThrow('mount', ['--no-canonicalize', '--bind', source, to], `binding ${source} onto ${to}`);
  if (options.readOnly !== true) return;
  // A bind mount ignores "ro" at creation; read-only takes a remount of the bind.
  const remount = await run('mount', ['--no-canonicalize', '-o', 'remount,bind,ro', to]);
  if (!remount.ok) {
    await unmount(to);
    throw new MountError(`making the bind mount ${to} read-only failed: ${remount.stderr || 'no message'}`);
  }
}

const NOT_MOUNTED = /not mounted|no mount point specified|not a mount point/i;

/**
 * Unmounts the topmost mount at `target`. Not mounted (or missing) is success; a busy
 * mount is detached lazily so it disappears from the tree at once.
 */
export async function unmount(target: string): Promise<void> {
  const path = resolve(target);
  const first = await run('umount', [path]);
  if (first.ok || NOT_MOUNTED.test(first.stderr)) return;
  if (/busy/i.test(first.stderr)) {
    const lazy = await run('umount', ['-l', path]);
    if (lazy.ok || NOT_MOUNTED.test(lazy.stderr)) return;
    throw new MountError(`unmounting ${path} failed: ${lazy.stderr || 'no message'}`);
  }
  if (!(await isMountPoint(path))) return;
  throw new MountError(`unmounting ${path} failed: ${first.stderr || 'no message'}`);
}

/**
 * Unmounts every mount at or under `dir`, including stacked ones, deepest first.
 * Throws (naming what is left) when mounts remain, so no caller deletes into them.
 */
export async function unmountAllUnder(dir: string): Promise<void> {
  for (let round = 0; round < 8; round++) {
    const points = await mountPointsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) await unmount(point);
  }
  const left = await mountPointsUnder(dir);
  if (left.length > 0) throw new MountError(`mounts under ${dir} could not be removed: ${left.join(', ')}`);
}
