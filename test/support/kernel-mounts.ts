// Mount inspection and clean-up for tests that mount things, independent of the
// code under test: read the kernel's table directly, detach lazily, never rm across a mount.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { parseMountInfo } from '../../agent/volumes/mount.js';

/** Mount points at or under `dir` from the kernel's table. */
export function kernelMountsUnder(dir: string): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

/** Detaches every mount under `dir` (lazily, deepest first), then removes it; never rm's across a mount. */
export async function unmountAndRemove(dir: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = kernelMountsUnder(dir).sort((a, b) => b.length - a.length);
    if (points.length === 0) break;
    for (const p of points) {
      try {
        execFileSync('umount', ['-l', p], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
  if (kernelMountsUnder(dir).length > 0) throw new Error(`mounts left under ${dir}; not removing it`);
  await rm(dir, { recursive: true, force: true });
}
