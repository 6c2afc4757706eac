// subPath binds and the mount helpers against the real kernel (we run as root): the
// bind target shows the volume's content, symlink escapes are refused with nothing
// outside touched, and a directory swapped for a symlink between two container
// starts is refused the second time.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMountPoint, mountPointsUnder, mountTmpfs, parseMountInfo, unmount } from '../../../agent/volumes/mount.js';
import { SubPathError } from '../../../agent/volumes/safe-open.js';
import { cleanSubPathMounts, prepareSubPathMount } from '../../../agent/volumes/subpath.js';
import { kernelMountsUnder, unmountAndRemove } from '../../support/kernel-mounts.js';

let base: string;
let volume: string;
let outside: string;
let podDir: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'nodelet-subpath-'));
  volume = join(base, 'pods/uid-1/volumes/emptyDir/data');
  outside = join(base, 'outside');
  podDir = join(base, 'pods/uid-1');
  await mkdir(volume, { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'outside secret');
});

afterEach(async () => {
  await unmountAndRemove(base);
});

function targetFor(index: number): string {
  return join(podDir, 'volume-subpaths/data/app', String(index));
}

describe('prepareSubPathMount', () => {
  it('binds a nested subPath, creating it inside the volume; the target shows the volume content both ways', async () => {
    const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'a/b', target: targetFor(0) });
    expect(target).toBe(targetFor(0));
    expect(await isMountPoint(target)).toBe(true);
    expect((await stat(join(volume, 'a/b'))).isDirectory()).toBe(true);

    await writeFile(join(volume, 'a/b/from-volume'), 'hello');
    expect(await readFile(join(target, 'from-volume'), 'utf8')).toBe('hello');
    await writeFile(join(target, 'from-target'), 'back');
    expect(await readFile(join(volume, 'a/b/from-target'), 'utf8')).toBe('back');
  });

  it('binds a file subPath onto a file target', async () => {
    await mkdir(join(volume, 'conf'));
    await writeFile(join(volume, 'conf/app.ini'), 'x=1');
    const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'conf/app.ini', target: targetFor(1) });
    expect((await stat(target)).isFile()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('x=1');
  });

  it('makes a read-only bind when asked', async () => {
    const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'ro', target: targetFor(2), readOnly: true });
    await expect(writeFile(join(target, 'nope'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await writeFile(join(volume, 'ro/yes'), 'y');
    expect(await readdir(target)).toEqual(['yes']);
  });

  it('refuses "../x", "/etc" and "a/../../x" and creates no target', async () => {
    for (const subPath of ['../x', '/etc', 'a/../../x']) {
      await expect(prepareSubPathMount({ volumeRoot: volume, subPath, target: targetFor(3) })).rejects.toBeInstanceOf(SubPathError);
    }
    await expect(stat(targetFor(3))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(base)).toEqual(['outside', 'pods'].sort());
  });

  it('refuses a symlink to /etc as the final and as an intermediate segment', async () => {
    await symlink('/etc', join(volume, 'etc'));
    await expect(prepareSubPathMount({ volumeRoot: volume, subPath: 'etc', target: targetFor(4) })).rejects.toThrow(/symlink at segment "etc"/);
    await expect(prepareSubPathMount({ volumeRoot: volume, subPath: 'etc/ssl', target: targetFor(5) })).rejects.toThrow(/symlink at segment "etc"/);
    expect(kernelMountsUnder(base)).toEqual([]);
  });

  it('refuses a symlink to a directory outside the volume and creates nothing there', async () => {
    await symlink(outside, join(volume, 'out'));
    await expect(prepareSubPathMount({ volumeRoot: volume, subPath: 'out/new', target: targetFor(6) })).rejects.toBeInstanceOf(SubPathError);
    await expect(prepareSubPathMount({ volumeRoot: volume, subPath: 'out', target: targetFor(6) })).rejects.toBeInstanceOf(SubPathError);
    expect(await readdir(outside)).toEqual(['secret']);
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('outside secret');
  });

  it('refuses the second time after a container swapped the directory for a symlink', async () => {
    const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'work', target: targetFor(7) });
    await writeFile(join(target, 'mine'), 'pod data');
    // The attack, as a container would do it inside the volume between restarts.
    await rename(join(volume, 'work'), join(volume, 'work.old'));
    await symlink(outside, join(volume, 'work'));

    await expect(prepareSubPathMount({ volumeRoot: volume, subPath: 'work', target: targetFor(7) })).rejects.toThrow(/symlink at segment "work"/);
    expect(await readdir(outside)).toEqual(['secret']);
    // Whatever stays on the target is the old directory, never the outside one.
    expect((await readdir(target)).sort()).toEqual(['mine']);
  });

  it('never binds the outside directory while a process keeps swapping the directory and a symlink', async () => {
    await mkdir(join(volume, 'race'));
    await writeFile(join(volume, 'race/inside'), 'i');
    const script = `cd '${volume}' || exit 1
      while :; do mv race race.real 2>/dev/null; ln -s '${outside}' race 2>/dev/null; rm -f race; mv race.real race 2>/dev/null; done`;
    const swapper = spawn('sh', ['-c', script], { stdio: 'ignore' });
    await once(swapper, 'spawn');
    let bound = 0;
    let refused = 0;
    try {
      for (let i = 0; i < 150; i++) {
        try {
          const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'race', target: targetFor(20) });
          bound++;
          expect(await readdir(target)).not.toContain('secret');
        } catch (err) {
          if (!(err instanceof SubPathError)) throw err;
          refused++;
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await once(swapper, 'exit');
    }
    expect(bound + refused).toBe(150);
    expect(await readdir(outside)).toEqual(['secret']);
  });

  it('is idempotent: a second call rebinds, leaving one mount on the target', async () => {
    await prepareSubPathMount({ volumeRoot: volume, subPath: 'again', target: targetFor(8) });
    await prepareSubPathMount({ volumeRoot: volume, subPath: 'again', target: targetFor(8) });
    expect(kernelMountsUnder(targetFor(8))).toEqual([targetFor(8)]);
    await writeFile(join(volume, 'again/f'), 'v');
    expect(await readFile(join(targetFor(8), 'f'), 'utf8')).toBe('v');
  });

  it('rebinds the new object when the subPath changed kind between calls', async () => {
    await prepareSubPathMount({ volumeRoot: volume, subPath: 'thing', target: targetFor(9) });
    await rm(join(volume, 'thing'), { recursive: true });
    await writeFile(join(volume, 'thing'), 'now a file');
    const target = await prepareSubPathMount({ volumeRoot: volume, subPath: 'thing', target: targetFor(9) });
    expect(await readFile(target, 'utf8')).toBe('now a file');
  });
});

describe('cleanSubPathMounts', () => {
  it('unmounts every subPath bind and removes volume-subpaths, keeping the volume content', async () => {
    await prepareSubPathMount({ volumeRoot: volume, subPath: 'x', target: targetFor(0) });
    await writeFile(join(volume, 'file'), 'f');
    await prepareSubPathMount({ volumeRoot: volume, subPath: 'file', target: targetFor(1) });
    await writeFile(join(volume, 'x/keep'), 'k');

    await cleanSubPathMounts(podDir);
    expect(kernelMountsUnder(base)).toEqual([]);
    await expect(stat(join(podDir, 'volume-subpaths'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(volume, 'x/keep'), 'utf8')).toBe('k');
    expect(await readFile(join(volume, 'file'), 'utf8')).toBe('f');
  });

  it('is a no-op for a pod without subPaths', async () => {
    await expect(cleanSubPathMounts(podDir)).resolves.toBeUndefined();
    expect((await stat(volume)).isDirectory()).toBe(true);
  });
});

describe('mount helpers', () => {
  it('parses mountinfo lines with optional fields and octal escapes', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt/with\\040space\\134x rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue',
      '37 36 0:40 / /tmp/a rw - tmpfs tmpfs rw,size=1024k',
      'garbage',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountId: 36, parentId: 35, mountPoint: '/mnt/with space\\x', fsType: 'ext3', source: '/dev/root' },
      { mountId: 37, parentId: 36, mountPoint: '/tmp/a', fsType: 'tmpfs', source: 'tmpfs' },
    ]);
  });

  it('mounts a tmpfs once on a path with a space and lists mounts deepest first', async () => {
    const dir = join(base, 'mem vol');
    await mkdir(dir);
    await mountTmpfs(dir, { sizeBytes: 1024 * 1024, mode: 0o777 });
    await mountTmpfs(dir, { sizeBytes: 1024 * 1024, mode: 0o777 });
    expect(kernelMountsUnder(dir)).toEqual([dir]);
    expect((await stat(dir)).mode & 0o777).toBe(0o777);
    expect(await isMountPoint(dir)).toBe(true);

    await mkdir(join(dir, 'inner'));
    await mountTmpfs(join(dir, 'inner'), {});
    expect(await mountPointsUnder(base)).toEqual([join(dir, 'inner'), dir]);

    await unmount(join(dir, 'inner'));
    await unmount(dir);
    await unmount(dir); // not mounted any more: still fine
    expect(await isMountPoint(dir)).toBe(false);
    expect(await mountPointsUnder(base)).toEqual([]);
  });

  it('detaches a busy mount lazily', async () => {
    const dir = join(base, 'busy');
    await mkdir(dir);
    await mountTmpfs(dir, {});
    const child = execFileSync('sh', ['-c', `cd '${dir}' && (sleep 30 >/dev/null 2>&1 & echo $!)`])
      .toString()
      .trim();
    try {
      await unmount(dir);
      expect(await isMountPoint(dir)).toBe(false);
    } finally {
      process.kill(Number(child));
    }
  });
});
