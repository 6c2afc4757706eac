// Measures what a volume occupies on disk, for emptyDir sizeLimit eviction. Allocated
// blocks (not apparent sizes) like du, lstat only, one device only, hard links once.
// Each directory is read through an fd whose dev:ino is checked against what its
// parent listed, so a container swapping a directory for a symlink cannot send the
// walk across the host's filesystem.
import { close as closeCb, constants, fstat as fstatCb, open as openCb, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { O_PATH } from './safe-open.js';

const openFd = promisify(openCb);
const fstatFd = promisify(fstatCb);
const closeFd = promisify(closeCb);

/** Directories read at the same time: enough to hide latency, few enough not to flood the disk or fd table. */
const MAX_IN_FLIGHT = 16;

interface PendingDir {
  path: string;
  dev: number;
  ino: number;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Bytes allocated under `dir` (st_blocks × 512 summed), 0 when `dir` is missing. */
export async function diskUsageBytes(dir: string): Promise<number> {
  let top: Stats;
  try {
    top = await lstat(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
  if (!top.isDirectory()) return top.blocks * 512;

  const dev = top.dev;
  const seenLinks = new Set<string>();
  let total = top.blocks * 512;
  const queue: PendingDir[] = [{ path: dir, dev: top.dev, ino: top.ino }];
  let inFlight = 0;
  let failure: unknown;

  const count = (st: Stats): void => {
    if (st.dev !== dev) return; // a mount inside the volume is not the volume's disk
    if (!st.isDirectory() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seenLinks.has(key)) return;
      seenLinks.add(key);
    }
    total += st.blocks * 512;
  };

  const readOne = async (pending: PendingDir): Promise<void> => {
    let fd: number;
    try {
      fd = await openFd(pending.path, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return; // gone or swapped meanwhile
      throw err;
    }
    try {
      const st = await fstatFd(fd);
      if (st.dev !== pending.dev || st.ino !== pending.ino) return; // not the directory its parent listed
      const here = `/proc/self/fd/${fd}`;
      const names = await readdir(here).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return [] as string[];
        throw err;
      });
      for (const name of names) {
        const child = await lstat(`${here}/${name}`).catch((err: unknown) => {
          if (errnoCode(err) === 'ENOENT') return undefined;
          throw err;
        });
        if (child === undefined) continue;
        count(child);
        if (child.isDirectory() && child.dev === dev) {
          queue.push({ path: `${pending.path}/${name}`, dev: child.dev, ino: child.ino });
        }
      }
    } finally {
      await closeFd(fd);
    }
  };

  await new Promise<void>((done) => {
    const pump = (): void => {
      while (failure === undefined && inFlight < MAX_IN_FLIGHT && queue.length > 0) {
        const next = queue.pop() as PendingDir;
        inFlight++;
        readOne(next)
          .catch((err: unknown) => {
            failure ??= err;
          })
          .finally(() => {
            inFlight--;
            pump();
          });
      }
      if (inFlight === 0 && (queue.length === 0 || failure !== undefined)) done();
    };
    pump();
  });
  if (failure !== undefined) throw failure;
  return total;
}
