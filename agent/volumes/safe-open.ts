// Resolves a volumeMount's subPath inside its volume without ever following a
// symlink (CVE-2017-1002101, CVE-2021-25741). A container can rewrite the volume at
// any moment, so a check on a path string is worthless: each segment is opened
// relative to the fd of its parent (openat semantics through /proc/self/fd/<fd>/<seg>)
// with O_NOFOLLOW, and the caller binds the final fd, never a path.
import { close as closeCb, constants, fstat as fstatCb, open as openCb, type Stats } from 'node:fs';
import { chmod, mkdir, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Linux O_PATH (x86_64 and arm64); Node does not export it. An fd that names an
 * object without opening it. libuv adds O_CLOEXEC to every open itself.
 */
export const O_PATH = 0o10000000;

const openFd = promisify(openCb);
const fstatFd = promisify(fstatCb);
const closeFdCb = promisify(closeCb);

export class SubPathError extends Error {
  constructor(
    readonly subPath: string,
    readonly why: string,
  ) {
    super(`subPath "${subPath}" is refused: ${why}`);
    this.name = 'SubPathError';
  }
}

function segmentsOf(subPath: string): string[] {
  // "." and empty segments ("a//b", "a/") name nothing new, as path.Clean in kubelet.
  return subPath.split('/').filter((s) => s !== '' && s !== '.');
}

/** Refuses an absolute subPath, any '..' segment and NUL; '' (the volume root) is fine. */
export function validateSubPath(subPath: string): void {
  if (subPath.includes('\0')) throw new SubPathError(subPath.replaceAll('\0', '\\0'), 'it contains a NUL byte');
  if (subPath.startsWith('/')) throw new SubPathError(subPath, 'it is an absolute path; it must be relative to the volume');
  if (subPath.split('/').includes('..')) throw new SubPathError(subPath, "it contains '..'");
}

export interface OpenedObject {
  /** An O_PATH fd of the resolved object; `/proc/<pid>/fd/<fd>` names exactly it. */
  fd: number;
  close(): Promise<void>;
}

function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}

async function closeQuietly(fd: number): Promise<void> {
  try {
    await closeFdCb(fd);
  } catch {
    // Already closed or never valid: nothing to release.
  }
}

/**
 * Opens `subPath` under `root` segment by segment, never following a symlink, and
 * returns an O_PATH fd of the final object (directory or file). With `createDirs`,
 * a missing segment is made with mkdir through its parent's fd (mode default 0755),
 * the final one too. Throws SubPathError for a symlink anywhere, a non-directory in
 * the middle, or a missing segment without `createDirs`. The root itself is trusted
 * (an agent-owned or admin-given path) and may be reached through symlinks.
 */
export async function openInside(root: string, subPath: string, options: { createDirs: boolean; mode?: number }): Promise<OpenedObject> {
  validateSubPath(subPath);
  const mode = options.mode ?? 0o755;
  const segments = segmentsOf(subPath);

  let rootFd: number;
  try {
    rootFd = await openFd(root, O_PATH | constants.O_DIRECTORY);
  } catch (err) {
    throw new SubPathError(subPath, `the volume root ${root} cannot be opened (${errnoCode(err) ?? String(err)})`);
  }

  let fd = rootFd;
  try {
    const rootReal = await readlink(fdPath(rootFd));
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i] as string;
      const shown = segments.slice(0, i + 1).join('/');
      const isLast = i === segments.length - 1;
      const next = await openSegment(fd, seg, { subPath, shown, create: options.createDirs, mode });
      const st = await fstatFd(next.fd);
      // O_PATH|O_NOFOLLOW opens a symlink itself instead of failing: fstat tells.
      if (st.isSymbolicLink()) {
        await closeQuietly(next.fd);
        throw new SubPathError(subPath, `symlink at segment "${shown}"`);
      }
      if (!isLast && !st.isDirectory()) {
        await closeQuietly(next.fd);
        throw new SubPathError(subPath, `segment "${shown}" is not a directory but ${kindOf(st)}`);
      }
      if (next.created && st.isDirectory()) {
        // Exact mode regardless of the agent's umask; through the fd, so it is the dir we made.
        await chmod(fdPath(next.fd), mode);
      }
      await closeQuietly(fd);
      fd = next.fd;
    }
    // Without symlinks only a mount inside the volume could lead out; refuse that too.
    const finalReal = await readlink(fdPath(fd));
    const inside = finalReal === rootReal || finalReal.startsWith(rootReal === '/' ? '/' : rootReal + '/');
    if (!inside) throw new SubPathError(subPath, `it escapes the volume ${root} (resolves to ${finalReal})`);
  } catch (err) {
    await closeQuietly(fd);
    throw err;
  }

  const resultFd = fd;
  let closed = false;
  return {
    fd: resultFd,
    async close() {
      if (closed) return;
      closed = true;
      await closeQuietly(resultFd);
    },
  };
}

async function openSegment(
  parentFd: number,
  seg: string,
  ctx: { subPath: string; shown: string; create: boolean; mode: number },
): Promise<{ fd: number; created: boolean }> {
  const path = `${fdPath(parentFd)}/${seg}`;
  const flags = O_PATH | constants.O_NOFOLLOW;
  let created = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return { fd: await openFd(path, flags), created };
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ELOOP') throw new SubPathError(ctx.subPath, `symlink at segment "${ctx.shown}"`);
      if (code !== 'ENOENT') throw new SubPathError(ctx.subPath, `segment "${ctx.shown}" cannot be opened (${code ?? String(err)})`);
      if (!ctx.create || attempt > 0) throw new SubPathError(ctx.subPath, `segment "${ctx.shown}" does not exist`);
    }
    try {
      // mkdir never follows a symlink in its last component: a racing symlink is EEXIST, and the reopen sees it.
      await mkdir(path, { mode: ctx.mode });
      created = true;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new SubPathError(ctx.subPath, `segment "${ctx.shown}" cannot be created (${errnoCode(err) ?? String(err)})`);
      }
    }
  }
  throw new SubPathError(ctx.subPath, `segment "${ctx.shown}" does not exist`);
}
