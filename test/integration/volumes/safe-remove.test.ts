// removeTreeSafely against the real kernel: a pod tree holding symlinks to outside
// files and directories, a bind mount of an outside directory and a tmpfs is removed
// with every outside file still in place.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bindMount, mountTmpfs } from '../../../agent/volumes/mount.js';
import { RemoveRefusedError, removeTreeSafely } from '../../../agent/volumes/safe-remove.js';
import { kernelMountsUnder, unmountAndRemove } from '../../support/kernel-mounts.js';

// Lets a test play "the unmount silently failed" to show the walker's own guard.
const unmountSwitch = vi.hoisted(() => ({ skip: false }));
vi.mock('../../../agent/volumes/mount.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../agent/volumes/mount.js')>();
  return { ...real, unmountAllUnder: (dir: string) => (unmountSwitch.skip ? Promise.resolve() : real.unmountAllUnder(dir)) };
});

let base: string;
let outside: string;
let pod: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'nodelet-remove-'));
  outside = join(base, 'outside');
  pod = join(base, 'pods/uid 1');
  await mkdir(join(outside, 'sub'), { recursive: true });
  await writeFile(join(outside, 'host-file'), 'host data');
  await writeFile(join(outside, 'sub/deep'), 'deep host data');
  await mkdir(pod, { recursive: true });
});

afterEach(async () => {
  unmountSwitch.skip = false;
  await unmountAndRemove(base);
});

async function outsideIntact(): Promise<void> {
  expect((await readdir(outside)).sort()).toEqual(['host-file', 'sub']);
  expect(await readFile(join(outside, 'host-file'), 'utf8')).toBe('host data');
  expect(await readFile(join(outside, 'sub/deep'), 'utf8')).toBe('deep host data');
}

describe('removeTreeSafely', () => {
  it('removes symlinks, binds and tmpfs mounts of a pod tree and nothing outside it', async () => {
    const vols = join(pod, 'volumes/emptyDir');
    await mkdir(join(vols, 'data/a/b'), { recursive: true });
    await writeFile(join(vols, 'data/a/b/file'), 'pod data');
    await symlink(outside, join(vols, 'data/link-to-dir'));
    await symlink(join(outside, 'host-file'), join(vols, 'data/a/link-to-file'));
    await symlink('../../../../../outside', join(vols, 'data/relative-link'));
    // A leftover bind of an outside directory (a hostPath subPath that was never unmounted).
    await mkdir(join(pod, 'volume-subpaths/host/app/0'), { recursive: true });
    await bindMount(outside, join(pod, 'volume-subpaths/host/app/0'));
    // A Memory emptyDir with content, and a bind nested inside it.
    await mkdir(join(vols, 'mem'));
    await mountTmpfs(join(vols, 'mem'), { sizeBytes: 4 * 1024 * 1024 });
    await writeFile(join(vols, 'mem/in-memory'), 'm');
    await mkdir(join(vols, 'mem/nested'));
    await bindMount(join(outside, 'sub'), join(vols, 'mem/nested'), { readOnly: true });
    expect(kernelMountsUnder(pod)).toHaveLength(3);

    await removeTreeSafely(pod);

    await expect(lstat(pod)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(kernelMountsUnder(base)).toEqual([]);
    await outsideIntact();
  });

  it('unmounts a busy mount lazily and still removes the tree', async () => {
    const mem = join(pod, 'volumes/emptyDir/mem');
    await mkdir(mem, { recursive: true });
    await mountTmpfs(mem, {});
    await writeFile(join(mem, 'f'), 'x');
    const holder = spawn('sleep', ['30'], { cwd: mem, stdio: 'ignore' });
    await once(holder, 'spawn');
    try {
      await removeTreeSafely(pod);
      await expect(lstat(pod)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(kernelMountsUnder(base)).toEqual([]);
    } finally {
      holder.kill();
    }
  });

  it('refuses to descend into a bind of the same filesystem that was not unmounted', async () => {
    await mkdir(join(pod, 'a/bound'), { recursive: true });
    await bindMount(outside, join(pod, 'a/bound'));
    unmountSwitch.skip = true;
    const err = await removeTreeSafely(pod).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoveRefusedError);
    expect((err as Error).message).toContain(join(pod, 'a/bound'));
    await outsideIntact();
  });

  it('refuses to descend into a tmpfs (another device) that was not unmounted', async () => {
    await mkdir(join(pod, 'mem'), { recursive: true });
    await mountTmpfs(join(pod, 'mem'), {});
    await writeFile(join(pod, 'mem/keep'), 'k');
    unmountSwitch.skip = true;
    await expect(removeTreeSafely(pod)).rejects.toThrow(/another device or mount/);
    expect(await readFile(join(pod, 'mem/keep'), 'utf8')).toBe('k');
  });

  it('only unlinks a top-level path that is itself a symlink', async () => {
    const link = join(base, 'pods/link');
    await symlink(outside, link);
    await removeTreeSafely(link);
    await expect(lstat(link)).rejects.toMatchObject({ code: 'ENOENT' });
    await outsideIntact();
  });

  it('is a no-op for a missing directory', async () => {
    await expect(removeTreeSafely(join(base, 'missing'))).resolves.toBeUndefined();
    expect((await stat(pod)).isDirectory()).toBe(true);
  });

  it('removes a deep plain tree', async () => {
    let dir = pod;
    for (let i = 0; i < 30; i++) {
      dir = join(dir, `level${i}`);
      await mkdir(dir);
      await writeFile(join(dir, 'f'), String(i));
    }
    await removeTreeSafely(pod);
    await expect(lstat(pod)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(join(base, 'pods'))).toEqual([]);
  });
});
