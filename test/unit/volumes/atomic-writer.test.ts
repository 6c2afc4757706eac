import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetWritten, writeAtomically, type Payload } from '../../../agent/volumes/atomic-writer.js';
import { PayloadError } from '../../../agent/volumes/payload.js';

const TS_DIR = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.[A-Za-z0-9]+$/;

function payload(files: Record<string, string | [string, number]>): Payload {
  return new Map(
    Object.entries(files).map(([path, v]) => {
      const [text, mode] = typeof v === 'string' ? [v, 0o644] : v;
      return [path, { data: Buffer.from(text), mode }];
    }),
  );
}

async function versions(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => TS_DIR.test(n));
}

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'nodelet-atomic-'));
  dir = join(root, 'vol');
});

afterEach(async () => {
  forgetWritten(dir);
  await rm(root, { recursive: true, force: true });
});

describe('writeAtomically', () => {
  it('writes a timestamped version, ..data pointing at it, and name -> ..data/name links', async () => {
    const changed = await writeAtomically(dir, payload({ 'app.conf': ['port=80', 0o600], 'conf/nested/x.yaml': 'a: 1', key: 'v' }));
    expect(changed).toBe(true);

    const [version, ...others] = await versions(dir);
    expect(others).toEqual([]);
    expect(version).toMatch(TS_DIR);
    expect(await readlink(join(dir, '..data'))).toBe(version);
    expect((await readdir(dir)).sort()).toEqual(['..data', version, 'app.conf', 'conf', 'key'].sort());
    expect(await readlink(join(dir, 'app.conf'))).toBe('..data/app.conf');
    expect(await readlink(join(dir, 'conf'))).toBe('..data/conf');

    expect(await readFile(join(dir, 'app.conf'), 'utf8')).toBe('port=80');
    expect(await readFile(join(dir, 'conf/nested/x.yaml'), 'utf8')).toBe('a: 1');
    expect((await stat(join(dir, 'app.conf'))).mode & 0o7777).toBe(0o600);
    expect((await stat(join(dir, 'key'))).mode & 0o7777).toBe(0o644);
    expect((await stat(join(dir, version!))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(dir, 'conf/nested'))).mode & 0o7777).toBe(0o755);
  });

  it('writes nothing when the payload did not change', async () => {
    await writeAtomically(dir, payload({ a: 'one', b: 'two' }));
    const before = await versions(dir);
    const mtime = (await lstat(join(dir, '..data'))).mtimeMs;

    expect(await writeAtomically(dir, payload({ b: 'two', a: 'one' }))).toBe(false);
    expect(await versions(dir)).toEqual(before);
    expect((await lstat(join(dir, '..data'))).mtimeMs).toBe(mtime);
  });

  it('after an agent restart (nothing in memory) compares with the disk and keeps an unchanged version', async () => {
    await writeAtomically(dir, payload({ a: ['one', 0o400], 'sub/b': 'two' }));
    const before = await versions(dir);
    forgetWritten(dir);

    expect(await writeAtomically(dir, payload({ a: ['one', 0o400], 'sub/b': 'two' }))).toBe(false);
    expect(await versions(dir)).toEqual(before);
  });

  it('after an agent restart rewrites when the disk differs (content, mode or an extra file)', async () => {
    await writeAtomically(dir, payload({ a: 'one' }));
    forgetWritten(dir);
    expect(await writeAtomically(dir, payload({ a: ['one', 0o600] }))).toBe(true);
    forgetWritten(dir);
    expect(await writeAtomically(dir, payload({ a: ['uno', 0o600] }))).toBe(true);
    forgetWritten(dir);
    const [version] = await versions(dir);
    await writeFile(join(dir, version!, 'stray'), 'x');
    expect(await writeAtomically(dir, payload({ a: ['uno', 0o600] }))).toBe(true);
    expect(await versions(dir)).toHaveLength(1);
    expect(await readdir(join(dir, '..data'))).toEqual(['a']);
  });

  it('swaps versions so an open reader keeps the old bytes and the path shows the new ones', async () => {
    await writeAtomically(dir, payload({ config: 'version 1' }));
    const [oldVersion] = await versions(dir);
    const reader = await open(join(dir, 'config'), 'r');
    try {
      expect(await writeAtomically(dir, payload({ config: 'version 2, longer' }))).toBe(true);

      const [newVersion, ...others] = await versions(dir);
      expect(others).toEqual([]);
      expect(newVersion).not.toBe(oldVersion);
      expect(await readlink(join(dir, '..data'))).toBe(newVersion);
      expect(await readFile(join(dir, 'config'), 'utf8')).toBe('version 2, longer');

      const buf = Buffer.alloc(64);
      const { bytesRead } = await reader.read(buf, 0, buf.length, 0);
      expect(buf.subarray(0, bytesRead).toString()).toBe('version 1');
    } finally {
      await reader.close();
    }
  });

  it('removes files and top-level links of keys dropped from the payload', async () => {
    await writeAtomically(dir, payload({ keep: 'k', drop: 'd', 'olddir/x': 'x', 'both/a': 'a', 'both/b': 'b' }));
    expect(await writeAtomically(dir, payload({ keep: 'k', 'both/a': 'a' }))).toBe(true);

    const names = (await readdir(dir)).filter((n) => !n.startsWith('..')).sort();
    expect(names).toEqual(['both', 'keep']);
    expect(await readdir(join(dir, '..data', 'both'))).toEqual(['a']);
    await expect(lstat(join(dir, 'drop'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(dir, '..data', 'olddir'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rewrites when only a mode changed', async () => {
    await writeAtomically(dir, payload({ a: ['same', 0o644] }));
    expect(await writeAtomically(dir, payload({ a: ['same', 0o400] }))).toBe(true);
    expect((await stat(join(dir, 'a'))).mode & 0o7777).toBe(0o400);
  });

  it('an empty payload is an empty volume with a ..data link', async () => {
    expect(await writeAtomically(dir, new Map())).toBe(true);
    expect(await readdir(join(dir, '..data'))).toEqual([]);
    expect((await readdir(dir)).filter((n) => !n.startsWith('..'))).toEqual([]);
  });

  it('sweeps leftovers of an interrupted write (old versions, ..data_tmp)', async () => {
    await writeAtomically(dir, payload({ a: '1' }));
    await mkdir(join(dir, '..2001_01_01_00_00_00.abcdef'));
    await writeFile(join(dir, '..2001_01_01_00_00_00.abcdef', 'a'), 'stale');
    await symlink('..2001_01_01_00_00_00.abcdef', join(dir, '..data_tmp'));

    expect(await writeAtomically(dir, payload({ a: '2' }))).toBe(true);
    const hidden = (await readdir(dir)).filter((n) => n.startsWith('..'));
    expect(hidden).toHaveLength(2);
    expect(hidden).toContain('..data');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('2');
  });

  it('refuses a bad path before writing anything', async () => {
    await expect(writeAtomically(dir, payload({ '../escape': 'x' }))).rejects.toThrow(PayloadError);
    await expect(writeAtomically(dir, payload({ '..data/x': 'x' }))).rejects.toThrow("must not start with '..'");
    await expect(lstat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(root, 'escape'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never follows or replaces something in the way of a visible name', async () => {
    await mkdir(dir);
    await writeFile(join(dir, 'a'), 'not ours');
    await expect(writeAtomically(dir, payload({ a: 'x' }))).rejects.toThrow('exists and is not a symlink');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('not ours');
  });

  it('with an fsGroup gives files and directories the group and group read (kubelet SetVolumeOwnership)', async () => {
    // The tests run as root (the agent does too), so chown to any group works.
    await writeAtomically(dir, payload({ token: ['t', 0o600], 'sub/key': ['k', 0o400] }), { fsGroup: 4321 });
    const token = await stat(join(dir, 'token'));
    expect(token.mode & 0o7777).toBe(0o640);
    expect(token.gid).toBe(4321);
    expect((await stat(join(dir, 'sub/key'))).mode & 0o7777).toBe(0o440);
    const sub = await stat(join(dir, 'sub'));
    expect(sub.mode & 0o7777).toBe(0o2755);
    expect(sub.gid).toBe(4321);
    forgetWritten(dir);
    expect(await writeAtomically(dir, payload({ token: ['t', 0o600], 'sub/key': ['k', 0o400] }), { fsGroup: 4321 })).toBe(false);
  });
});
