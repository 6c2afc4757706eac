// A subPath mount is handed to Docker as a bind of an agent-owned target, never as a
// path inside the volume: Docker would follow any symlink a container planted there.
// The target is bound from /proc/<pid>/fd/<fd> of the object openInside resolved, so
// the kernel binds exactly that object even if the volume changes meanwhile.
import { fstat as fstatCb, constants } from 'node:fs';
import { lstat, mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bindMount, isMountPoint, unmount } from './mount.js';
import { openInside, validateSubPath } from './safe-open.js';
import { removeTreeSafely } from './safe-remove.js';

const fstatFd = promisify(fstatCb);

/** The folder under a pod dir that holds every subPath bind target. */
export const SUBPATH_DIR = 'volume-subpaths';

export interface SubPathMountInput {
  volumeRoot: string;
  subPath: string;
  /** `<root>/pods/<uid>/volume-subpaths/<volume>/<container>/<mountIndex>`: agent-owned, trusted. */
  target: string;
  readOnly?: boolean;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Makes `target` a directory or an empty file, whichever the bound object needs. */
async function prepareTarget(target: string, wantDirectory: boolean): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const existing = await lstat(target).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    if (existing.isDirectory() === wantDirectory && (wantDirectory || existing.isFile())) return;
    // The object changed kind since the last bind (or a stale entry): replace the target.
    if (existing.isDirectory()) await rmdir(target);
    else await unlink(target);
  }
  if (wantDirectory) {
    await mkdir(target, { mode: 0o750 });
    return;
  }
  const handle = await open(target, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o640);
  await handle.close();
}

/**
 * Resolves `subPath` safely inside `volumeRoot` (creating missing directories there)
 * and binds the resolved object onto `target`; returns `target` for the runtime.
 * Idempotent: an existing bind on `target` is dropped and the subPath re-checked,
 * since the volume may have changed between container restarts.
 */
export async function prepareSubPathMount(input: SubPathMountInput): Promise<string> {
  validateSubPath(input.subPath);
  const target = resolve(input.target);
  const opened = await openInside(input.volumeRoot, input.subPath, { createDirs: true });
  try {
    const st = await fstatFd(opened.fd);
    for (let i = 0; i < 8 && (await isMountPoint(target)); i++) await unmount(target);
    await prepareTarget(target, st.isDirectory());
    await bindMount(`/proc/${process.pid}/fd/${opened.fd}`, target, { readOnly: input.readOnly === true });
  } finally {
    await opened.close();
  }
  return target;
}

/** Unmounts every subPath bind of a pod and removes `<podDir>/volume-subpaths`. */
export async function cleanSubPathMounts(podDir: string): Promise<void> {
  await removeTreeSafely(join(podDir, SUBPATH_DIR));
}
