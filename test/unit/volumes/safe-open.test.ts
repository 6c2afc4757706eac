// openInside on plain tmp dirs (no mounts): subPath validation, segment-wise
// resolution refusing symlinks, and creation that never reaches outside the volume.
import { mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SubPathError, openInside, validateSubPath } from '../../../agent/volumes/safe-open.js';

describe('validateSubPath', () => {
  it.each(['../x', '/etc', 'a/../../x', '..', 'a/..', '/'])('refuses %j', (subPath) => {
    expect(() => validateSubPath(subPath)).toThrow(SubPathError);
  });

  it('names the subPath and the reason in the message', () => {
    expect(() => validateSubPath('/etc')).toThrow(/subPath "\/etc".*absolute/);
    expect(() => validateSubPath('a/../../x')).toThrow(/subPath "a\/\.\.\/\.\.\/x".*'\.\.'/);
    expect(() => validateSubPath('a\0b')).toThrow(/NUL/);
  });

  it.each(['', 'a', 'a/b/c', './a', 'a..b', '..a', 'a/b..'])('accepts %j', (subPath) => {
    expect(() => validateSubPath(subPath)).not.toThrow();
  });
});

describe('openInside', () => {
  let base: string;
  let volume: string;
  let outside: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'nodelet-safe-open-'));
    volume = join(base, 'volume');
    outside = join(base, 'outside');
    await mkdir(volume);
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'outside');
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function resolvedPath(root: string, subPath: string, createDirs: boolean): Promise<string> {
    const opened = await openInside(root, subPath, { createDirs });
    try {
      return await readlink(`/proc/self/fd/${opened.fd}`);
    } finally {
      await opened.close();
    }
  }

  it('creates nested directories inside the volume with the requested mode', async () => {
    expect(await resolvedPath(volume, 'a/b/c', true)).toBe(join(volume, 'a/b/c'));
    expect((await stat(join(volume, 'a/b/c'))).isDirectory()).toBe(true);
    expect((await stat(join(volume, 'a'))).mode & 0o777).toBe(0o755);

    const opened = await openInside(volume, 'x/y', { createDirs: true, mode: 0o700 });
    await opened.close();
    expect((await stat(join(volume, 'x/y'))).mode & 0o777).toBe(0o700);
  });

  it('opens the volume root for an empty subPath and ignores "." segments', async () => {
    expect(await resolvedPath(volume, '', false)).toBe(volume);
    await mkdir(join(volume, 'a'));
    expect(await resolvedPath(volume, './a/.', false)).toBe(join(volume, 'a'));
  });

  it('opens an existing file as the final segment', async () => {
    await mkdir(join(volume, 'conf'));
    await writeFile(join(volume, 'conf', 'app.ini'), 'x=1');
    expect(await resolvedPath(volume, 'conf/app.ini', true)).toBe(join(volume, 'conf', 'app.ini'));
  });

  it('refuses a symlink to /etc as the final segment', async () => {
    await symlink('/etc', join(volume, 'etc'));
    await expect(openInside(volume, 'etc', { createDirs: true })).rejects.toThrow(/symlink at segment "etc"/);
  });

  it('refuses a symlink to /etc as an intermediate segment', async () => {
    await symlink('/etc', join(volume, 'etc'));
    const err = await openInside(volume, 'etc/passwd', { createDirs: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubPathError);
    expect((err as SubPathError).message).toMatch(/subPath "etc\/passwd".*symlink at segment "etc"/);
  });

  it('refuses a deeper symlink to a directory outside the volume and creates nothing there', async () => {
    await mkdir(join(volume, 'a'));
    await symlink(outside, join(volume, 'a', 'out'));
    await expect(openInside(volume, 'a/out/new/deeper', { createDirs: true })).rejects.toThrow(/symlink at segment "a\/out"/);
    await expect(openInside(volume, 'a/out', { createDirs: true })).rejects.toThrow(SubPathError);
    expect(await readdir(outside)).toEqual(['secret']);
  });

  it('refuses a relative symlink that climbs out, and a dangling one', async () => {
    await symlink('../outside', join(volume, 'up'));
    await symlink('/nonexistent-nodelet-target', join(volume, 'dangling'));
    await expect(openInside(volume, 'up', { createDirs: true })).rejects.toThrow(/symlink/);
    await expect(openInside(volume, 'dangling', { createDirs: true })).rejects.toThrow(/symlink/);
    await expect(readdir('/nonexistent-nodelet-target')).rejects.toThrow();
  });

  it('refuses a file in the middle of the path', async () => {
    await writeFile(join(volume, 'file'), 'x');
    await expect(openInside(volume, 'file/x', { createDirs: true })).rejects.toThrow(/segment "file" is not a directory but a regular file/);
  });

  it('refuses a missing segment without createDirs and creates nothing', async () => {
    await expect(openInside(volume, 'missing/x', { createDirs: false })).rejects.toThrow(/segment "missing" does not exist/);
    expect(await readdir(volume)).toEqual([]);
  });

  it('refuses invalid subPaths before touching the disk', async () => {
    await expect(openInside(volume, '../outside', { createDirs: true })).rejects.toThrow(SubPathError);
    await expect(openInside(volume, '/etc', { createDirs: true })).rejects.toThrow(SubPathError);
    expect(await readdir(outside)).toEqual(['secret']);
  });

  it('reports a missing volume root', async () => {
    await expect(openInside(join(base, 'nope'), 'a', { createDirs: true })).rejects.toThrow(/volume root .*nope cannot be opened/);
  });

  it('close() may be called twice', async () => {
    const opened = await openInside(volume, 'a', { createDirs: true });
    await opened.close();
    await expect(opened.close()).resolves.toBeUndefined();
  });
});
