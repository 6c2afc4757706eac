// Deletes a pod's directory tree without ever reaching outside it: mounts are
// unmounted first, a symlink is unlinked and never followed, and each directory is
// walked through its own fd (/proc/self/fd/<fd>/<name>), so swapping a directory for
// a symlink mid-walk cannot redirect an unlink. A directory on another device or
// another mount (a bind of the same filesystem shares st_dev, so the mount id from
// /proc/self/fdinfo is checked too) is a mount that survived unmounting, say of a
// hostPath: refuse rather than empty it.
import { close as closeCb, constants, fstat as fstatCb, open as openCb } from 'node:fs';
import { lstat, readFile, readdir, rmdir, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { unmountAllUnder } from './mount.js';
import { O_PATH } from './safe-open.js';

const openFd = promisify(openCb);
const fstatFd = promisify(fstatCb);
const closeFd = promisify(closeCb);

export class RemoveRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoveRefusedError';
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The id of the mount an fd lives on (mountinfo's first column). */
async function mountIdOf(fd: number): Promise<string> {
  const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
  const id = /^mnt_id:\s*(\d+)/m.exec(info)?.[1];
  if (id === undefined) throw new Error(`no mnt_id in /proc/self/fdinfo/${fd}`);
  return id;
}

interface TreeIdentity {
  dev: number;
  mountId: string;
}

function refuseOtherMount(shown: string): RemoveRefusedError {
  return new RemoveRefusedError(`refusing to remove ${shown}: it is on another device or mount (a mount that was not unmounted)`);
}

async function ignoreMissing(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Unmounts everything under `dir`, then removes the tree: symlinks unlinked, never
 * followed; never crossing onto another device. A missing `dir` is a no-op.
 */
export async function removeTreeSafely(dir: string): Promise<void> {
  const top = resolve(dir);
  const st = await lstat(top).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) return;
  if (!st.isDirectory()) {
    await ignoreMissing(unlink(top));
    return;
  }
  await unmountAllUnder(top);
  const fd = await openFd(top, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const tree: TreeIdentity = { dev: (await fstatFd(fd)).dev, mountId: await mountIdOf(fd) };
    await emptyDirectory(fd, top, tree);
  } finally {
    await closeFd(fd);
  }
  await ignoreMissing(rmdir(top));
}

/** Removes every entry of the directory open as `dirFd`; `shown` is its path for messages. */
async function emptyDirectory(dirFd: number, shown: string, tree: TreeIdentity): Promise<void> {
  const here = `/proc/self/fd/${dirFd}`;
  for (const name of await readdir(here)) {
    await removeEntry(here, name, `${shown}/${name}`, tree);
  }
}

async function removeEntry(parent: string, name: string, shown: string, tree: TreeIdentity, attempt = 0): Promise<void> {
  const path = `${parent}/${name}`;
  const st = await lstat(path).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) return;
  if (st.dev !== tree.dev) throw refuseOtherMount(shown);
  if (!st.isDirectory()) {
    // unlink never follows its last component; the parent is pinned by its fd.
    await ignoreMissing(unlink(path));
    return;
  }
  let fd: number;
  try {
    fd = await openFd(path, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return;
    // Swapped for a symlink (or file) since lstat: remove that instead, without following it.
    if ((code === 'ENOTDIR' || code === 'ELOOP') && attempt < 3) return removeEntry(parent, name, shown, tree, attempt + 1);
    throw err;
  }
  try {
    if ((await fstatFd(fd)).dev !== tree.dev || (await mountIdOf(fd)) !== tree.mountId) throw refuseOtherMount(shown);
    await emptyDirectory(fd, shown, tree);
  } finally {
    await closeFd(fd);
  }
  await ignoreMissing(rmdir(path));
}
